/* SPDX-License-Identifier: MIT */
/*
 * summary.svg, drawn with GNU plotutils' libplot (its SVG plotter), a
 * maintained library Debian ships, rather than hand-written SVG.
 *
 * What libplot's SVG output implies here (seen with plotutils 2.6):
 *  - the page has ONE user space: the SVG plotter writes the whole page
 *    under a single transform taken from the last pl_fspace(), so every
 *    panel is laid out in page coordinates (changing the space per panel
 *    would move what was drawn before);
 *  - coordinates are written with 5 significant digits, so a point is as
 *    exact as the page is tall: reading a value back from the picture is
 *    good to about 1e-5 of the page height, not to summary.tsv's digits;
 *  - the file says ISO-8859-1 and labels go through as bytes: labels are
 *    reduced to printable ASCII here (names are ASCII anyway);
 *  - the default line width grows with the page: it is set explicitly;
 *  - output is deterministic (no date, no random ids);
 *  - every Plotter leaves about 124 bytes behind after pl_deletepl_r()
 *    (copied parameters, its colour name cache: plotutils 2.6's own leak,
 *    suppressed for the tests in tests/lsan.supp and tests/valgrind.supp):
 *    one picture per finished run, about 1.2 MB after 10^4 runs.
 * libplot writes to a FILE; a cookie stream appends to the caller's
 * capped pfs_buf, so the picture is as bounded as every other output.
 *
 * Layout (user units, y up): a title, then one panel per metric column
 * (a frame whose bottom and top edges are the axis's lowest and highest
 * ticks, both labelled), runs left to right grouped by configuration with
 * a gap between groups, then a legend of the configurations.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plot.h>   /* after stdio.h: it uses FILE without including it */

#include "results_internal.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

#define PAGE_W 1000.0
#define PAGE_W_CM 25.0
#define LEFT 110.0
#define RIGHT 970.0
#define TITLE_H 70.0
#define PANEL_H 220.0
#define PANEL_GAP 90.0
#define LEGEND_LINE 22.0
#define LABEL_MAX 140
#define TICKS 5

static const char *const palette[] = { "#1f77b4", "#d62728", "#2ca02c", "#9467bd",
				       "#ff7f0e", "#17becf", "#8c564b", "#e377c2" };

/* ---- the stream into a pfs_buf -------------------------------------------------------------- */

struct sink {
	struct pfs_buf *b;
	int err;
};

static ssize_t sink_write(void *cookie, const char *data, size_t len)
{
	struct sink *k = cookie;
	int r;

	if (k->err)
		return -1;
	r = pfs_buf_add(k->b, data, len);
	if (r < 0) {
		k->err = r;
		return -1;
	}
	return (ssize_t)len;
}

/* ---- numbers and labels --------------------------------------------------------------------- */

/* A round step >= raw: 1, 2, 2.5 or 5 times a power of ten. */
static double nice_step(double raw)
{
	double p = pow(10, floor(log10(raw))), f = raw / p;

	return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * p;
}

/* 2500000000 -> "2.5G", 0.004 -> "4m": what a reader wants on an axis. */
static void si_label(double v, char *out, size_t n)
{
	static const char *const up[] = { "", "k", "M", "G", "T", "P", "E" };
	static const char *const down[] = { "", "m", "u", "n", "p" };
	double a = fabs(v);
	int k = 0;

	if (a == 0) {
		snprintf(out, n, "0");
		return;
	}
	if (a >= 1) {
		while (a >= 1000 && k < 6) {
			a /= 1000;
			v /= 1000;
			k++;
		}
		snprintf(out, n, "%.4g%s", v, up[k]);
	} else {
		while (a < 1 && k < 4) {
			a *= 1000;
			v *= 1000;
			k++;
		}
		snprintf(out, n, "%.4g%s", v, down[k]);
	}
}

/* Printable ASCII only, at most LABEL_MAX characters. */
static void clean_label(const char *in, char *out, size_t n)
{
	size_t k = 0;

	for (; *in && k + 4 < n && k < LABEL_MAX; in++)
		out[k++] = (*in >= 0x20 && *in < 0x7f && *in != '\\') ? *in : '?';
	if (*in && k + 4 < n) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	out[k] = '\0';
}

/* ---- drawing --------------------------------------------------------------------------------- */

struct axis {
	double lo, hi;
	long ticks;    /* intervals between labels: multiples of a round step */
};

static struct axis axis_of(const struct summary *s, size_t m)
{
	double lo = 0, hi = 0, step;
	bool any = false;

	for (size_t i = 0; i < s->n_rows; i++) {
		if (!s->rows[i].has[m])
			continue;
		lo = any ? fmin(lo, s->rows[i].val[m]) : fmin(0, s->rows[i].val[m]);
		hi = any ? fmax(hi, s->rows[i].val[m]) : fmax(0, s->rows[i].val[m]);
		any = true;
	}
	if (hi == lo)
		hi = lo + 1;
	step = nice_step((hi - lo) / TICKS);
	lo = floor(lo / step) * step;
	hi = ceil(hi / step) * step;
	return (struct axis){ lo, hi, PFS_MAX(1, lround((hi - lo) / step)) };
}

static void text(plPlotter *p, double x, double y, int h, int v, double size, const char *s)
{
	char clean[LABEL_MAX + 8];

	clean_label(s, clean, sizeof(clean));
	pl_ffontsize_r(p, size);
	pl_fmove_r(p, x, y);
	pl_alabel_r(p, h, v, clean);
}

/*
 * Each run's slot: runs in configuration order (then run order), one empty
 * slot between groups; order[] lists the rows left to right.
 */
static void slots(const struct summary *s, double *x, size_t *order, size_t *start, double *group_lo,
		  double *group_hi)
{
	size_t total = s->n_rows + (s->n_conf ? s->n_conf - 1 : 0);
	double w = (RIGHT - LEFT) / (double)(total ? total : 1);

	/* a counting sort by configuration keeps run order within each */
	for (size_t c = 0; c < s->n_conf; c++)
		start[c + 1] = start[c] + s->conf[c].n_runs;
	for (size_t i = 0; i < s->n_rows; i++)
		order[start[s->rows[i].config - 1]++] = i;
	for (size_t c = 0, k = 0; c < s->n_conf; c++) {
		size_t slot = k + c;

		group_lo[c] = LEFT + (double)slot * w;
		for (size_t j = 0; j < s->conf[c].n_runs; j++, k++)
			x[order[k]] = LEFT + ((double)(k + c) + 0.5) * w;
		group_hi[c] = LEFT + (double)(k + c) * w;
	}
}

static void panel(plPlotter *p, const struct summary *s, size_t m, double top, const double *x, const size_t *order)
{
	struct axis ax = axis_of(s, m);
	double bottom = top - PANEL_H;
	char label[64], title[LABEL_MAX + 8];

	pl_pencolorname_r(p, "black");
	pl_fillcolorname_r(p, "black");
	pl_filltype_r(p, 0);
	pl_flinewidth_r(p, 1);
	pl_fbox_r(p, LEFT, bottom, RIGHT, top);
	snprintf(title, sizeof(title), "%s%s%s%s", s->m[m].key, s->m[m].unit[0] ? " (" : "", s->m[m].unit,
		 s->m[m].unit[0] ? ")" : "");
	text(p, LEFT, top + 12, 'l', 'b', 16, title);
	for (long k = 0; k <= ax.ticks; k++) {
		double v = ax.lo + (ax.hi - ax.lo) * (double)k / (double)ax.ticks;
		double y = bottom + PANEL_H * (double)k / (double)ax.ticks;

		pl_fline_r(p, LEFT - 6, y, LEFT, y);
		if (k > 0 && k < ax.ticks) {
			pl_linemod_r(p, "dotted");
			pl_pencolorname_r(p, "#bbbbbb");
			pl_fline_r(p, LEFT, y, RIGHT, y);
			pl_linemod_r(p, "solid");
			pl_pencolorname_r(p, "black");
		}
		si_label(v, label, sizeof(label));
		text(p, LEFT - 10, y, 'r', 'c', 13, label);
	}
	/* left to right: by configuration, then run */
	for (size_t k = 0; k < s->n_rows; k++) {
		const struct srow *row = &s->rows[order[k]];
		const char *color = palette[(size_t)(row->config - 1) % PFS_ARRAY_SIZE(palette)];
		double y;

		if (!row->has[m])
			continue;
		y = bottom + (row->val[m] - ax.lo) / (ax.hi - ax.lo) * PANEL_H;
		pl_pencolorname_r(p, color);
		pl_fillcolorname_r(p, color);
		/* filled: the run succeeded; hollow: it did not */
		pl_fmarker_r(p, x[order[k]], y, strcmp(row->verdict, "succeeded") ? 4 : 16, 8);
	}
	pl_pencolorname_r(p, "black");
}

int summary_svg(const struct summary *s, struct pfs_buf *out, struct pfs_err *err)
{
	size_t n_panels = s->n_m ? s->n_m : 1;
	double page_h = TITLE_H + (double)n_panels * (PANEL_H + PANEL_GAP) + 40 + LEGEND_LINE * (double)(s->n_conf + 1);
	double *x = calloc(s->n_rows + 1, sizeof(*x)), *glo = calloc(s->n_conf + 1, sizeof(*glo));
	double *ghi = calloc(s->n_conf + 1, sizeof(*ghi));
	size_t *order = calloc(s->n_rows + 1, sizeof(*order)), *start = calloc(s->n_conf + 2, sizeof(*start));
	struct sink sink = { out, 0 };
	plPlotterParams *pp = NULL;
	plPlotter *p = NULL;
	FILE *fp = NULL;
	char size[96], line[LABEL_MAX * 4];
	double top;
	int r = 0;

	if (!x || !glo || !ghi || !order || !start) {
		r = pfs_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	fp = fopencookie(&sink, "w", (cookie_io_functions_t){ .write = sink_write });
	pp = pl_newplparams();
	if (!fp || !pp) {
		r = pfs_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	/* the page's aspect is the user space's, so text is not stretched */
	snprintf(size, sizeof(size), "a4,xsize=%.1fcm,ysize=%.1fcm", PAGE_W_CM, PAGE_W_CM * page_h / PAGE_W);
	pl_setplparam(pp, "PAGESIZE", size);
	p = pl_newpl_r("svg", NULL, fp, NULL, pp);
	if (!p || pl_openpl_r(p) < 0) {
		r = pfs_err_set(err, -EIO, "libplot: cannot open an SVG plotter");
		goto out;
	}
	pl_fspace_r(p, 0, 0, PAGE_W, page_h);
	pl_fontname_r(p, "Helvetica");
	pl_flinewidth_r(p, 1);
	pl_pencolorname_r(p, "black");
	snprintf(line, sizeof(line), "%s: each metric per run, grouped by configuration", s->test);
	text(p, LEFT, page_h - 30, 'l', 'c', 20, line);
	text(p, LEFT, page_h - 55, 'l', 'c', 13,
	     "filled: the run succeeded; hollow: it did not; runs in order within each configuration");
	slots(s, x, order, start, glo, ghi);
	top = page_h - TITLE_H - 30;
	if (!s->n_m)
		text(p, LEFT, top - PANEL_H / 2, 'l', 'c', 16,
		     s->n_rows ? "no metrics: the version configs name none for these programs" : "no runs yet");
	for (size_t m = 0; m < s->n_m; m++, top -= PANEL_H + PANEL_GAP) {
		panel(p, s, m, top, x, order);
		for (size_t c = 0; c < s->n_conf; c++) {
			snprintf(line, sizeof(line), "c%d", s->conf[c].id);
			text(p, (glo[c] + ghi[c]) / 2, top - PANEL_H - 8, 'c', 't', 13, line);
		}
	}
	if (s->n_m)
		top += PANEL_H + PANEL_GAP;
	top -= PANEL_H + 50;
	for (size_t c = 0; c < s->n_conf; c++, top -= LEGEND_LINE) {
		const struct sconf *cf = &s->conf[c];
		const struct srow *first = &s->rows[cf->first];
		struct pfs_buf b = PFS_BUF_INIT(1u << 16);
		const char *color = palette[c % PFS_ARRAY_SIZE(palette)];

		pfs_buf_printf(&b, "c%d: ", cf->id);
		for (size_t k = 0; k < s->n_set; k++)
			pfs_buf_printf(&b, "%s%s=%s", k ? ", " : "", s->set[k],
				       json_string_value(json_object_get(first->settings, s->set[k])) ?: "-");
		if (!s->n_set)
			pfs_buf_addstr(&b, "every run");
		pfs_buf_printf(&b, " (%zu run%s, %zu succeeded)", cf->n_runs, cf->n_runs == 1 ? "" : "s", cf->n_passed);
		pl_pencolorname_r(p, color);
		pl_fillcolorname_r(p, color);
		pl_fmarker_r(p, LEFT + 5, top, 16, 8);
		pl_pencolorname_r(p, "black");
		pl_fillcolorname_r(p, "black");
		/* text() cuts it to LABEL_MAX characters; a failed append left it empty */
		text(p, LEFT + 20, top, 'l', 'c', 13, b.len ? pfs_buf_str(&b) : "(out of memory)");
		pfs_buf_release(&b);
	}
	if (pl_closepl_r(p) < 0) {
		r = pfs_err_set(err, -EIO, "libplot: cannot finish the SVG page");
		goto out;
	}
out:
	if (p)
		pl_deletepl_r(p);
	if (pp)
		pl_deleteplparams(pp);
	if (fp && fclose(fp) != 0 && r == 0 && !sink.err)
		r = pfs_err_set(err, -EIO, "cannot write the SVG page");
	if (r == 0 && sink.err)
		r = pfs_err_set(err, sink.err, "summary.svg: %s", sink.err == -E2BIG ? "larger than its cap" : "out of memory");
	free(x);
	free(glo);
	free(ghi);
	free(order);
	free(start);
	return r;
}
