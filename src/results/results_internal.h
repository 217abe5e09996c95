/* SPDX-License-Identifier: MIT */
/*
 * Shared by summary.c (rows, aggregates, TSV, JSON) and plot.c (the SVG).
 * A built summary is immutable; nothing here locks.
 */
#ifndef PANTHERFS_RESULTS_INTERNAL_H
#define PANTHERFS_RESULTS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "pantherfs/results.h"

enum stat_kind { ST_MIN, ST_MEDIAN, ST_MEAN, ST_MAX, ST_STDDEV, ST_N };

/* A metric column: "<service>.<metric>" with its unit. */
struct mcol {
	char *key, *service, *metric, *unit;
};

struct srow {
	int run, iteration, iterations;
	char *time;
	char *verdict;
	int config;            /* 1-based */
	json_t *settings;      /* the run's own, as strings (owned) */
	json_t *services;      /* name -> {implementation, version} (owned) */
	double *val;           /* per metric column */
	bool *has;
};

struct sconf {
	int id;
	size_t first;          /* index of its first row */
	size_t n_runs, n_passed;
	size_t *n_vals;        /* per metric column: values present */
	double (*stat)[ST_N];  /* per metric column */
	bool (*has_stat)[ST_N];
};

struct summary {
	char *test;
	struct srow *rows;     /* by run number */
	size_t n_rows;
	char **svc;            /* service names, first seen first */
	size_t n_svc;
	char **set;            /* settings that vary (not implementation/version), first seen first */
	size_t n_set;
	struct mcol *m;
	size_t n_m;
	struct sconf *conf;
	size_t n_conf;
};

/* "%.15g", with -0 as 0. */
void results_fmt_number(double v, char *out, size_t n);

/* A setting's value as summaries show it: text as is, lists joined with ",". Owned by the caller. */
char *results_setting_text(const json_t *v);

#endif
