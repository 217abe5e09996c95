/* SPDX-License-Identifier: MIT */
/*
 * Matrices (matrix.h): the state of each, the thread that runs their
 * cells, and their tables, served from memory.
 *
 * A matrix is a folder of the state dir, matrices/<m>/: matrix.yaml as
 * accepted, matrix.json ({"round", "runs": [the run of each cell in this
 * round, 0 while queued, -1 when it could not start]}), error (the last
 * refusal). Each accepted matrix.yaml starts a round: every cell queued.
 *
 * The thread (one for all matrices) wakes every second, or when poked (a
 * matrix written, a run ended): for each matrix it reads the status of
 * its cells that have not ended, starts queued cells in file order while
 * fewer than `parallel` run (a cell is its test, created when missing, its
 * config applied: engine_test_apply_config, as a user's write would), and
 * rebuilds matrix.tsv, matrix.txt and the status line when a cell changed.
 * A cell whose run ended keeps its last status (runs/<n> is frozen), so a
 * finished matrix costs nothing. Cells are tests like any: a cell whose
 * test runs already (a user's run) waits for it to end.
 *
 * LOCKING: mx.lock (a leaf: see engine_internal.h) guards the list and every
 * field of a matrix. It is never held across an engine call or a disk
 * write: the thread copies what it needs, works unlocked, and stores the
 * result only if the matrix is still in the same round (a write of
 * matrix.yaml meanwhile starts another). mx.write_lock makes writers of a
 * matrix (apply, remove) take turns, so that its files on disk are those
 * of the round in memory.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_internal.h"
#include "pantherfs/log.h"
#include "pantherfs/matrix.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

#define TICK_MS 1000
#define TABLE_CAP (16u << 20)

const char *const engine_matrix_files[] = { "matrix.yaml", "matrix.tsv", "matrix.txt", "status", "error", NULL };

struct matrix {
	char *name;
	char *dir;                      /* the state dir's matrices/<m> */
	char *text;                     /* matrix.yaml as accepted; NULL while empty */
	size_t len;
	struct timespec text_mtime;
	struct matrix_plan *plan;       /* NULL: empty, or the catalogue no longer takes it */
	int round;                      /* bumped by each accepted write */
	int *runs;                      /* per cell: its run, 0 queued, -1 could not start */
	char **status;                  /* per cell: its last status line, NULL while queued */
	bool *ended;                    /* per cell: its run ended (status final) */
	char *error;                    /* the last refusal; NULL: none */
	struct timespec error_mtime;
	char *tsv, *txt;                /* the tables */
	char line[256];                 /* the status line */
	struct timespec tables_mtime;
};

/* ---- state in memory (mx.lock held) -------------------------------------------------------------- */

static struct matrix *find(struct engine *e, const char *name)
{
	for (size_t i = 0; i < e->mx.n; i++)
		if (!strcmp(e->mx.v[i]->name, name))
			return e->mx.v[i];
	return NULL;
}

static void cells_free(struct matrix *m)
{
	for (size_t i = 0; m->plan && i < m->plan->n_cells; i++)
		free(m->status[i]);
	free(m->status);
	free(m->runs);
	free(m->ended);
	m->status = NULL;
	m->runs = NULL;
	m->ended = NULL;
	matrix_plan_free(m->plan);
	m->plan = NULL;
}

static void matrix_free(struct matrix *m)
{
	if (!m)
		return;
	cells_free(m);
	free(m->name);
	free(m->dir);
	free(m->text);
	free(m->error);
	free(m->tsv);
	free(m->txt);
	free(m);
}

/* Sets m's plan (owned) with every cell queued, or with the runs of runs (n entries). */
static int set_plan(struct matrix *m, struct matrix_plan *p, const int *runs, size_t n)
{
	cells_free(m);
	m->plan = p;
	if (!p)
		return 0;
	m->runs = calloc(p->n_cells + 1, sizeof(*m->runs));
	m->status = calloc(p->n_cells + 1, sizeof(*m->status));
	m->ended = calloc(p->n_cells + 1, sizeof(*m->ended));
	if (!m->runs || !m->status || !m->ended)
		return -ENOMEM;
	for (size_t i = 0; runs && i < n && i < p->n_cells; i++)
		m->runs[i] = runs[i];
	return 0;
}

/* The tables and the status line from what is known of the cells. */
static void rebuild(struct matrix *m)
{
	struct pfs_buf tsv = PFS_BUF_INIT(TABLE_CAP), txt = PFS_BUF_INIT(TABLE_CAP);
	struct matrix_state *st = NULL;
	size_t n = m->plan ? m->plan->n_cells : 0, live = 0, ended = 0, counts[5] = { 0 };
	static const char *const kinds[] = { "succeeded", "failed", "unsupported", "error", "stopped" };
	char word[32], tail[192] = "";

	free(m->tsv);
	free(m->txt);
	m->tsv = m->txt = NULL;
	pfs_realtime_ts(&m->tables_mtime);
	if (!m->plan) {
		if (m->text && m->error)
			snprintf(m->line, sizeof(m->line), "error %.*s", (int)strcspn(m->error, "\n"), m->error);
		else
			snprintf(m->line, sizeof(m->line), "%s", "empty");
		return;
	}
	st = calloc(n + 1, sizeof(*st));
	for (size_t i = 0; st && i < n; i++) {
		st[i].run = m->runs[i] > 0 ? m->runs[i] : 0;
		st[i].status = m->status[i];
		if (m->runs[i] != 0 && m->ended[i]) {
			ended++;
			matrix_state_word(&st[i], word, sizeof(word));
			for (size_t k = 0; k < PFS_ARRAY_SIZE(kinds); k++)
				counts[k] += !strcmp(word, kinds[k]);
		} else if (m->runs[i] > 0) {
			live++;
		}
	}
	if (st && matrix_tsv(m->plan, st, &tsv) == 0)
		m->tsv = pfs_buf_steal(&tsv, NULL);
	if (st && matrix_table(m->plan, st, &txt) == 0)
		m->txt = pfs_buf_steal(&txt, NULL);
	pfs_buf_release(&tsv);
	pfs_buf_release(&txt);
	free(st);
	for (size_t k = 0, len = 0; k < PFS_ARRAY_SIZE(kinds); k++)
		if (counts[k] && len < sizeof(tail))
			len += (size_t)snprintf(tail + len, sizeof(tail) - len, "%s%zu %s", len ? ", " : ": ", counts[k],
						kinds[k]);
	if (ended == n)
		snprintf(m->line, sizeof(m->line), "done %zu cell%s%s", n, n == 1 ? "" : "s", tail);
	else
		snprintf(m->line, sizeof(m->line), "running %zu of %zu cell%s, %zu ended%s", live, n, n == 1 ? "" : "s",
			 ended, tail);
}

/* ---- the state dir ------------------------------------------------------------------------------- */

/* matrix.json of the round (the caller holds no lock: runs is its copy). */
static void save_runs(const char *dir, int round, const int *runs, size_t n)
{
	json_t *j = json_pack("{s:i,s:[]}", "round", round, "runs"), *a = json_object_get(j, "runs");
	char *txt, *path = pfs_strdup_printf("%s/matrix.json", dir);

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_integer(runs[i]));
	txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (!txt || !path || pfs_write_file_atomic(path, txt, strlen(txt)) < 0)
		pfs_err_log("%s: cannot save the matrix's runs", path ? path : dir);
	free(txt);
	free(path);
	json_decref(j);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char *path = pfs_strdup_printf("%s/%s", dir, name);

	if (!path || pfs_write_file_atomic(path, text ? text : "", text ? strlen(text) : 0) < 0)
		pfs_err_log("%s/%s: cannot write it", dir, name);
	free(path);
}

/* One matrix of the state dir, as it was left (no lock: before the thread starts). */
static struct matrix *load_one(struct engine *e, const char *name)
{
	struct matrix *m = calloc(1, sizeof(*m));
	struct pfs_buf b = PFS_BUF_INIT(CONFIG_MAX_BYTES + 1);
	struct matrix_plan *p = NULL;
	struct cfg_report rep;
	char *path;
	json_t *j = NULL, *runs;
	int *v = NULL;
	size_t n = 0;

	if (!m || !(m->name = strdup(name)) || !(m->dir = pfs_strdup_printf("%s/matrices/%s", e->x.state_dir, name))) {
		matrix_free(m);
		return NULL;
	}
	pfs_realtime_ts(&m->text_mtime);
	m->error_mtime = m->text_mtime;
	path = pfs_strdup_printf("%s/matrix.yaml", m->dir);
	if (path && pfs_read_file(path, &b) == 0 && b.len) {
		m->text = pfs_buf_steal(&b, &m->len);
		if (matrix_load(e->x.cat, name, "matrix.yaml", m->text, m->len, &p, &rep) < 0)
			m->error = cfg_report_text(rep.errors, rep.n_errors, 1u << 20);
		cfg_report_release(&rep);
	}
	free(path);
	pfs_buf_release(&b);
	path = pfs_strdup_printf("%s/matrix.json", m->dir);
	j = path ? json_load_file(path, 0, NULL) : NULL;
	free(path);
	runs = json_object_get(j, "runs");
	m->round = (int)json_integer_value(json_object_get(j, "round"));
	if (json_array_size(runs)) {
		v = calloc(json_array_size(runs), sizeof(*v));
		for (n = 0; v && n < json_array_size(runs); n++)
			v[n] = (int)json_integer_value(json_array_get(runs, n));
	}
	json_decref(j);
	set_plan(m, p, v, n);
	free(v);
	rebuild(m);
	return m;
}

static int add(struct engine *e, struct matrix *m)
{
	struct matrix **nv = realloc(e->mx.v, (e->mx.n + 1) * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	e->mx.v = nv;
	e->mx.v[e->mx.n++] = m;
	return 0;
}

/* ---- the thread ------------------------------------------------------------------------------------- */

/* A copy of what one tick needs of a matrix (taken under mx.lock). */
struct work {
	char *name;
	int round;
	long parallel;
	size_t n;
	char **tests;            /* per cell */
	int *runs;
	bool *ended;
	char **status;           /* the new status of cells read this tick (NULL: unchanged) */
	bool *now_ended;
};

static void work_free(struct work *w)
{
	for (size_t i = 0; i < w->n; i++) {
		free(w->tests[i]);
		free(w->status[i]);
	}
	free(w->tests);
	free(w->status);
	free(w->runs);
	free(w->ended);
	free(w->now_ended);
	free(w->name);
	memset(w, 0, sizeof(*w));
}

static int work_take(struct matrix *m, struct work *w)
{
	size_t n = m->plan->n_cells;

	memset(w, 0, sizeof(*w));
	w->name = strdup(m->name);
	w->round = m->round;
	w->parallel = m->plan->parallel;
	w->tests = calloc(n + 1, sizeof(*w->tests));
	w->status = calloc(n + 1, sizeof(*w->status));
	w->runs = calloc(n + 1, sizeof(*w->runs));
	w->ended = calloc(n + 1, sizeof(*w->ended));
	w->now_ended = calloc(n + 1, sizeof(*w->now_ended));
	if (!w->name || !w->tests || !w->status || !w->runs || !w->ended || !w->now_ended)
		goto oom;
	w->n = n;
	for (size_t i = 0; i < n; i++) {
		if (!(w->tests[i] = strdup(m->plan->cells[i].test)))
			goto oom;
		w->runs[i] = m->runs[i];
		w->ended[i] = m->ended[i];
	}
	return 0;
oom:
	work_free(w);
	return -ENOMEM;
}

/* The first line of a status file of run n of test; NULL when there is none (a test removed). */
static char *status_of(struct engine *e, const char *test, int run)
{
	struct engine_file f;
	char *line = NULL;

	if (engine_file_get(e, test, run, NULL, PFS_F_STATUS, &f) == 0 && f.data)
		line = strndup(f.data, strcspn(f.data, "\n"));
	engine_file_release(&f);
	return line;
}

/*
 * Starts a cell: its test (created when missing) gets the cell's config, as
 * a user's write would give it. 0 with *run, -EBUSY when the test runs
 * already (try later), else -errno with why.
 */
static int start_cell(struct engine *e, const char *test, const char *config, size_t len, int *run, char *why,
		      size_t n)
{
	struct pfs_err err = { 0 };
	struct cfg_report rep;
	int *v, before, r;
	size_t nr;

	r = engine_test_create(e, test, &err);
	if (r < 0 && r != -EEXIST) {
		snprintf(why, n, "cannot create its test: %s", err.msg);
		return r;
	}
	if (engine_run_live(e, test, 0))
		return -EBUSY;
	v = engine_run_numbers(e, test, &nr);
	before = v && nr ? v[nr - 1] : 0;
	free(v);
	r = engine_test_apply_config(e, test, config, len, &rep);
	if (r < 0)
		snprintf(why, n, "its config was refused: %s", rep.n_errors ? rep.errors[0] : strerror(-r));
	cfg_report_release(&rep);
	if (r < 0)
		return r;
	v = engine_run_numbers(e, test, &nr);
	*run = v && nr ? v[nr - 1] : 0;
	free(v);
	if (*run <= before) {
		snprintf(why, n, "its run did not start");
		return -EAGAIN;
	}
	return 0;
}

static void tick_one(struct engine *e, size_t idx)
{
	struct matrix *m;
	struct work w;
	size_t live = 0;
	bool changed = false;

	pthread_mutex_lock(&e->mx.lock);
	m = idx < e->mx.n ? e->mx.v[idx] : NULL;
	if (!m || !m->plan || work_take(m, &w) < 0) {
		pthread_mutex_unlock(&e->mx.lock);
		return;
	}
	pthread_mutex_unlock(&e->mx.lock);

	/* the cells that have started and not ended: their status now */
	for (size_t i = 0; i < w.n; i++) {
		if (w.runs[i] <= 0 || w.ended[i])
			continue;
		w.now_ended[i] = !engine_run_live(e, w.tests[i], w.runs[i]);
		w.status[i] = status_of(e, w.tests[i], w.runs[i]);
		if (!w.status[i]) {
			w.status[i] = strdup("lost: its test was removed");
			w.now_ended[i] = true;
		}
		live += !w.now_ended[i];
	}
	/* queued cells, in order, while fewer than `parallel` run */
	for (size_t i = 0; i < w.n && (long)live < w.parallel; i++) {
		char why[512] = "", *config = NULL;
		size_t len = 0;
		int run = 0, r;

		if (w.runs[i] != 0)
			continue;
		pthread_mutex_lock(&e->mx.lock);
		m = idx < e->mx.n ? e->mx.v[idx] : NULL;
		if (m && m->plan && m->round == w.round && !strcmp(m->name, w.name)) {
			config = strndup(m->plan->cells[i].config, m->plan->cells[i].config_len);
			len = m->plan->cells[i].config_len;
		}
		pthread_mutex_unlock(&e->mx.lock);
		if (!config)
			break; /* rewritten or removed meanwhile */
		r = start_cell(e, w.tests[i], config, len, &run, why, sizeof(why));
		free(config);
		if (r == -EBUSY)
			continue; /* its test's own run first */
		w.runs[i] = r == 0 ? run : -1;
		w.status[i] = r == 0 ? status_of(e, w.tests[i], run) : pfs_strdup_printf("error %s", why);
		w.now_ended[i] = r != 0;
		live += r == 0;
	}
	/* stored, and saved, only into the round it was made for */
	pthread_mutex_lock(&e->mx.write_lock);
	pthread_mutex_lock(&e->mx.lock);
	m = idx < e->mx.n ? e->mx.v[idx] : NULL;
	if (m && m->plan && m->round == w.round && !strcmp(m->name, w.name)) {
		for (size_t i = 0; i < w.n; i++) {
			if (w.runs[i] != m->runs[i]) {
				m->runs[i] = w.runs[i];
				changed = true;
			}
			if (w.status[i] && (!m->status[i] || strcmp(w.status[i], m->status[i]))) {
				free(m->status[i]);
				m->status[i] = w.status[i];
				w.status[i] = NULL;
				changed = true;
			}
			if (w.now_ended[i] && !m->ended[i]) {
				m->ended[i] = true;
				changed = true;
			}
		}
		if (changed)
			rebuild(m);
	} else {
		changed = false; /* another round began: its own tick will do */
	}
	pthread_mutex_unlock(&e->mx.lock);
	if (changed) {
		char *dir = pfs_strdup_printf("%s/matrices/%s", e->x.state_dir, w.name);

		if (dir)
			save_runs(dir, w.round, w.runs, w.n);
		free(dir);
	}
	pthread_mutex_unlock(&e->mx.write_lock);
	work_free(&w);
}

static void *matrix_main(void *arg)
{
	struct engine *e = arg;

	for (;;) {
		struct timespec ts;
		size_t n;

		pthread_mutex_lock(&e->mx.lock);
		if (e->mx.stopping) {
			pthread_mutex_unlock(&e->mx.lock);
			return NULL;
		}
		n = e->mx.n;
		e->mx.poked = false;
		pthread_mutex_unlock(&e->mx.lock);
		for (size_t i = 0; i < n && !conn_stopping(&e->x.conn); i++)
			tick_one(e, i);
		pthread_mutex_lock(&e->mx.lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += TICK_MS / 1000;
		while (!e->mx.stopping && !e->mx.poked)
			if (pthread_cond_timedwait(&e->mx.cv, &e->mx.lock, &ts) == ETIMEDOUT)
				break;
		pthread_mutex_unlock(&e->mx.lock);
	}
}

/* ---- life cycle ---------------------------------------------------------------------------------------- */

int matrices_start(struct engine *e)
{
	char *dir = pfs_strdup_printf("%s/matrices", e->x.state_dir);
	struct dirent **ents = NULL;
	int n, r;

	pthread_mutex_init(&e->mx.write_lock, NULL);
	pthread_mutex_init(&e->mx.lock, NULL);
	pthread_cond_init(&e->mx.cv, NULL);
	if (!dir || pfs_mkdir_p(dir, 0700) < 0) {
		free(dir);
		return -EIO;
	}
	n = scandir(dir, &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		struct matrix *m = pfs_name_valid(ents[i]->d_name) ? load_one(e, ents[i]->d_name) : NULL;

		if (m && add(e, m) < 0)
			matrix_free(m);
		free(ents[i]);
	}
	free(ents);
	free(dir);
	r = pthread_create(&e->mx.th, NULL, matrix_main, e);
	if (r != 0)
		return -r;
	e->mx.th_started = true;
	return 0;
}

void matrices_stop(struct engine *e)
{
	pthread_mutex_lock(&e->mx.lock);
	e->mx.stopping = true;
	pthread_cond_broadcast(&e->mx.cv);
	pthread_mutex_unlock(&e->mx.lock);
	if (e->mx.th_started)
		pthread_join(e->mx.th, NULL);
	e->mx.th_started = false;
	for (size_t i = 0; i < e->mx.n; i++)
		matrix_free(e->mx.v[i]);
	free(e->mx.v);
	e->mx.v = NULL;
	e->mx.n = 0;
	pthread_cond_destroy(&e->mx.cv);
	pthread_mutex_destroy(&e->mx.lock);
	pthread_mutex_destroy(&e->mx.write_lock);
}

/* ---- the public calls (engine.h) ----------------------------------------------------------------- */

int engine_matrix_create(struct engine *e, const char *name, struct pfs_err *err)
{
	struct matrix *m;
	int r;

	if (!pfs_name_valid(name))
		return pfs_err_set(err, -EINVAL, "\"%s\": a matrix name is 1-64 characters of [A-Za-z0-9._-], "
						 "not starting with . or -", name);
	m = calloc(1, sizeof(*m));
	if (!m || !(m->name = strdup(name)) || !(m->dir = pfs_strdup_printf("%s/matrices/%s", e->x.state_dir, name))) {
		matrix_free(m);
		return pfs_err_set(err, -ENOMEM, "out of memory");
	}
	pfs_realtime_ts(&m->text_mtime);
	m->error_mtime = m->tables_mtime = m->text_mtime;
	rebuild(m);
	r = pfs_mkdir_p(m->dir, 0700);
	if (r < 0) {
		matrix_free(m);
		return pfs_err_set(err, r, "cannot create the state of matrix %s: %s", name, strerror(-r));
	}
	pthread_mutex_lock(&e->mx.lock);
	r = find(e, name) ? -EEXIST : add(e, m);
	pthread_mutex_unlock(&e->mx.lock);
	if (r < 0) {
		matrix_free(m);
		return pfs_err_set(err, r, r == -EEXIST ? "matrix %s exists" : "out of memory", name);
	}
	return 0;
}

int engine_matrix_remove(struct engine *e, const char *name, struct pfs_err *err)
{
	struct matrix *m = NULL;
	char *dir = NULL;

	pthread_mutex_lock(&e->mx.write_lock);
	pthread_mutex_lock(&e->mx.lock);
	for (size_t i = 0; i < e->mx.n; i++)
		if (!strcmp(e->mx.v[i]->name, name)) {
			m = e->mx.v[i];
			memmove(&e->mx.v[i], &e->mx.v[i + 1], (e->mx.n - i - 1) * sizeof(*e->mx.v));
			e->mx.n--;
			break;
		}
	pthread_mutex_unlock(&e->mx.lock);
	if (!m) {
		pthread_mutex_unlock(&e->mx.write_lock);
		return pfs_err_set(err, -ENOENT, "no matrix %s", name);
	}
	/* its cells are tests: they stay, a live one runs on to its end */
	dir = m->dir;
	m->dir = NULL;
	matrix_free(m);
	pfs_rm_rf(dir);
	pthread_mutex_unlock(&e->mx.write_lock);
	free(dir);
	return 0;
}

int engine_matrix_apply(struct engine *e, const char *name, const char *data, size_t len, struct cfg_report *rep)
{
	struct matrix_plan *p = NULL;
	struct matrix *m;
	char *dir, *text = NULL, *err_text = NULL;
	int *runs = NULL, round = 0, r;
	size_t n = 0;

	memset(rep, 0, sizeof(*rep));
	pthread_mutex_lock(&e->mx.write_lock);
	pthread_mutex_lock(&e->mx.lock);
	m = find(e, name);
	dir = m ? strdup(m->dir) : NULL;
	pthread_mutex_unlock(&e->mx.lock);
	if (!m || !dir) {
		pthread_mutex_unlock(&e->mx.write_lock);
		free(dir);
		return m ? -ENOMEM : -ENOENT;
	}
	r = matrix_load(e->x.cat, name, "matrix.yaml", data, len, &p, rep);
	if (r < 0) {
		err_text = cfg_report_text(rep->errors, rep->n_errors, 1u << 20);
		write_file(dir, "error", err_text);
	} else {
		text = malloc(len + 1);
		if (!text) {
			r = -ENOMEM;
			goto out;
		}
		memcpy(text, data, len);
		text[len] = '\0';
		write_file(dir, "matrix.yaml", text);
		write_file(dir, "error", "");
		n = p->n_cells;
		runs = calloc(n + 1, sizeof(*runs));
	}
	pthread_mutex_lock(&e->mx.lock);
	m = find(e, name);
	if (m && r < 0) {
		free(m->error);
		m->error = err_text;
		err_text = NULL;
		pfs_realtime_ts(&m->error_mtime);
	} else if (m) {
		free(m->text);
		m->text = text;
		m->len = len;
		text = NULL;
		free(m->error);
		m->error = NULL;
		pfs_realtime_ts(&m->text_mtime);
		m->error_mtime = m->text_mtime;
		round = ++m->round;
		set_plan(m, p, NULL, 0);
		p = NULL;
		rebuild(m);
		e->mx.poked = true;
		pthread_cond_broadcast(&e->mx.cv);
	}
	pthread_mutex_unlock(&e->mx.lock);
	if (r == 0 && runs)
		save_runs(dir, round, runs, n);
out:
	pthread_mutex_unlock(&e->mx.write_lock);
	matrix_plan_free(p);
	free(runs);
	free(text);
	free(err_text);
	free(dir);
	return r;
}

char **engine_matrix_names(struct engine *e)
{
	char **v;

	pthread_mutex_lock(&e->mx.lock);
	v = calloc(e->mx.n + 1, sizeof(*v));
	for (size_t i = 0; v && i < e->mx.n; i++)
		if (!(v[i] = strdup(e->mx.v[i]->name))) {
			pfs_strv_free(v);
			v = NULL;
		}
	pthread_mutex_unlock(&e->mx.lock);
	return v;
}

bool engine_matrix_exists(struct engine *e, const char *name)
{
	bool found;

	pthread_mutex_lock(&e->mx.lock);
	found = find(e, name) != NULL;
	pthread_mutex_unlock(&e->mx.lock);
	return found;
}

int engine_matrix_file(struct engine *e, const char *name, const char *file, struct engine_file *f)
{
	struct matrix *m;
	const char *text = NULL;
	char line[300];
	struct timespec mt;
	int r = 0;

	memset(f, 0, sizeof(*f));
	pthread_mutex_lock(&e->mx.lock);
	m = find(e, name);
	if (!m) {
		r = -ENOENT;
	} else if (!strcmp(file, "matrix.yaml")) {
		text = m->text;
		mt = m->text_mtime;
	} else if (!strcmp(file, "matrix.tsv")) {
		text = m->tsv;
		mt = m->tables_mtime;
	} else if (!strcmp(file, "matrix.txt")) {
		text = m->txt;
		mt = m->tables_mtime;
	} else if (!strcmp(file, "status")) {
		snprintf(line, sizeof(line), "%s\n", m->line);
		text = line;
		mt = m->tables_mtime;
	} else if (!strcmp(file, "error")) {
		text = m->error;
		mt = m->error_mtime;
	} else {
		r = -ENOENT;
	}
	if (r == 0) {
		f->data = strdup(text ? text : "");
		f->len = f->data ? strlen(f->data) : 0;
		f->mtime = mt;
		r = f->data ? 0 : -ENOMEM;
	}
	pthread_mutex_unlock(&e->mx.lock);
	return r;
}
