/* SPDX-License-Identifier: MIT */
/*
 * pantherfs command line: options, subcommands, and (later) the mount.
 * Kept small: every piece of work lives in the library.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stdbool.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pfs_config.h"
#include "pantherfs/catalog.h"
#include "pantherfs/config.h"
#include "pantherfs/docker.h"
#include "pantherfs/docker_ref.h"
#include "pantherfs/engine.h"
#include "pantherfs/fs.h"
#include "pantherfs/log.h"
#include "pantherfs/render.h"
#include "pantherfs/sources.h"
#include "pantherfs/util.h"
#include "pantherfs/banned.h"

static const char *default_state_dir(void)
{
	static char dir[4096];
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

	if (geteuid() == 0 && !xdg)
		return "/var/lib/pantherfs";
	if (xdg && *xdg)
		snprintf(dir, sizeof(dir), "%s/pantherfs", xdg);
	else
		snprintf(dir, sizeof(dir), "%s/.local/state/pantherfs", home && *home ? home : "/tmp");
	return dir;
}

/*
 * Signals: the handler only writes a byte; a thread does the work. It ends
 * every stream first (readers see EOF, not an aborted request), gives them
 * a moment, then stops the session loop and wakes its main thread.
 */
static int sig_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	char c = (char)sig;

	if (write(sig_pipe[1], &c, 1) < 0) {
		/* nothing to do from a signal handler */
	}
}

static void on_wake(int sig)
{
	(void)sig;
}

struct shutdown {
	struct pfs_fs *fs;
	struct fuse_session *se;
	pthread_t main;
};

static void *shutdown_main(void *arg)
{
	struct shutdown *sd = arg;
	char c = 0;

	while (read(sig_pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	if (!c)
		return NULL; /* the loop ended by itself (fusermount3 -u) */
	pfs_log(PFS_LOG_NOTICE, "signal %d: unmounting", c);
	pfs_fs_close_streams(sd->fs);
	usleep(250000);
	fuse_session_exit(sd->se);
	pthread_kill(sd->main, SIGUSR2);
	return NULL;
}

static int install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal }, wake = { .sa_handler = on_wake },
			 ign = { .sa_handler = SIG_IGN };

	if (pipe2(sig_pipe, O_CLOEXEC) < 0)
		return -errno;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&wake.sa_mask);
	sigemptyset(&ign.sa_mask);
	/* no SA_RESTART on the wake-up: the loop's wait must return */
	if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0 ||
	    sigaction(SIGHUP, &sa, NULL) < 0 || sigaction(SIGUSR2, &wake, NULL) < 0 ||
	    sigaction(SIGPIPE, &ign, NULL) < 0)
		return -errno;
	return 0;
}

/*
 * libfuse skips the unmount when the device already reports an error (an
 * aborted connection), which can leave a dead mount ("Transport endpoint is
 * not connected"). Detach it then, so a stopped pantherfs never leaves one.
 */
static void ensure_unmounted(const char *mountpoint)
{
	struct stat st;

	if (stat(mountpoint, &st) == 0 || errno != ENOTCONN)
		return;
	if (geteuid() == 0 && umount2(mountpoint, MNT_DETACH) == 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", "-z", mountpoint, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

/* Where things are: the options every command shares. */
struct dirs {
	const char *host, *state_dir, *data_dir, *sources_dir;
	const char *registry;          /* --registry */
	enum engine_swarm swarm;       /* --swarm */
};

static int cmd_mount(const char *mountpoint, const struct dirs *d, bool foreground, bool debug,
		     struct fuse_args *args)
{
	struct engine_opts eo = { .state_dir = d->state_dir, .data_dir = d->data_dir,
				  .sources_dir = d->sources_dir, .docker_host = d->host,
				  .registry = d->registry, .swarm = d->swarm, .notify = pfs_fs_notify };
	struct fuse_loop_config loop = { .clone_fd = 0, .max_idle_threads = 10 };
	struct shutdown sd = { .main = pthread_self() };
	pthread_t sd_thread;
	bool sd_started = false;
	struct fuse_session *se = NULL;
	struct engine *e = NULL;
	struct pfs_fs *fs = NULL;
	struct pfs_err err = { 0 };
	int rc = 1;

	if (debug)
		fuse_opt_add_arg(args, "-d");
	if (pfs_fs_new(&fs) < 0) {
		fprintf(stderr, "pantherfs: out of memory\n");
		return 1;
	}
	eo.notify_ud = fs;
	pfs_log_install_fuse_sink();
	se = fuse_session_new(args, pfs_fs_ops(), sizeof(struct fuse_lowlevel_ops), fs);
	if (!se)
		goto out;
	if (install_signals() < 0)
		goto out;
	if (fuse_session_mount(se, mountpoint) != 0)
		goto out;
	if (fuse_daemonize(foreground) != 0)
		goto out_unmount;
	if (!foreground)
		pfs_log_use_syslog(1);
	/* after daemonizing: the engine's threads must live in the final process */
	if (engine_new(&eo, &e, &err) < 0) {
		pfs_err_log("%s", err.msg);
		goto out_unmount;
	}
	if (pfs_fs_start(fs, e, se) < 0)
		goto out_engine;
	sd.fs = fs;
	sd.se = se;
	sd.main = pthread_self();
	sd_started = pthread_create(&sd_thread, NULL, shutdown_main, &sd) == 0;
	pfs_log(PFS_LOG_NOTICE, "mounted on %s (state %s)", mountpoint, d->state_dir);
	rc = fuse_session_loop_mt(se, &loop) == 0 ? 0 : 1;
	if (sd_started) {
		char zero = 0;

		if (write(sig_pipe[1], &zero, 1) < 0) {
			/* the thread already read its byte */
		}
		pthread_join(sd_thread, NULL);
	}
	/* the orchestrator stops first: parked readers get their end, runs go on in Docker */
	pfs_fs_stop(fs);
out_engine:
	engine_free(e);
out_unmount:
	fuse_session_unmount(se);
	ensure_unmounted(mountpoint);
out:
	if (se)
		fuse_session_destroy(se);
	pfs_fs_free(fs);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pantherfs [options] [SOURCE] MOUNTPOINT\n"
		"       pantherfs [options] check FILE\n"
		"       pantherfs [options] render FILE [--address SERVICE=IP ...]\n"
		"       pantherfs [options] engine\n"
		"\n"
		"Mounts pantherfs at MOUNTPOINT: mkdir tests/<name>, write a PANTHER test config\n"
		"to tests/<name>/config.yaml, and read status, events, logs. See MOUNTPOINT/README.\n"
		"\n"
		"commands:\n"
		"  check FILE           validate a test configuration: every error with its\n"
		"                       line, then warnings (keys not applied), notes and images;\n"
		"                       exit status 1 on errors\n"
		"  render FILE [--address SERVICE=IP ...]\n"
		"                       print each service's command line\n"
		"  engine               print the Docker engine pantherfs reaches:\n"
		"                       \"connected <engine version> api <version>\" or\n"
		"                       \"disconnected: <reason>\" (exit status 1)\n"
		"\n"
		"options:\n"
		"  --docker-host=URL    unix:///path or tcp://host:port\n"
		"                       (default: $DOCKER_HOST, else unix://" DOCKER_DEFAULT_SOCKET ")\n"
		"  --state-dir=DIR      configs, events, logs and runs (default: %s)\n"
		"  --data-dir=DIR       where version_configs/, templates/ and docker/ are\n"
		"                       (default: %s)\n"
		"  --sources-dir=DIR    source tarballs for image builds, <name>-<commit>.tar.gz\n"
		"                       (default: the data dir's docker/<implementation>/sources/)\n"
		"  --registry=HOST:PORT a registry the engine (every Swarm node) reaches: images\n"
		"                       pantherfs builds are pushed there once, and pulled from\n"
		"                       there before building\n"
		"  --swarm=auto|on|off  runs on a Docker Swarm: auto (a manager's engine is one),\n"
		"                       on (only on a manager), off (one engine) (default: auto)\n"
		"  -f                   stay in the foreground (logs on stderr)\n"
		"  -d, --debug          debug log (and libfuse's); implies -f\n"
		"  -o OPT[,OPT...]      mount options (allow_other, auto_unmount, ...); also\n"
		"                       state_dir=DIR, data_dir=DIR, sources_dir=DIR,\n"
		"                       docker_host=URL, registry=HOST:PORT, swarm=auto|on|off\n"
		"                       (fstab); allow_other needs\n"
		"                       default_permissions (or unchecked_allow_other)\n"
		"  -h, --help           this text\n"
		"  -V, --version        print the version\n",
		default_state_dir(), catalog_default_data_dir());
}

/*
 * Prints one line as `check` and `render` show text: control characters
 * escaped, whatever the file held (the report's lines are escaped already;
 * names, image references and commands are escaped here).
 */
__attribute__((format(printf, 2, 3)))
static void print_line(FILE *out, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL, *e;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	e = s ? pfs_escape_ctl_dup(s, 0) : NULL;
	fprintf(out, "%s\n", e ? e : "(out of memory)");
	free(e);
	free(s);
}

static int load_config_file(const struct dirs *d, const char *file, struct catalog **cat,
			    struct pfs_config **cfg, struct cfg_report *rep)
{
	struct pfs_buf b = PFS_BUF_INIT(CONFIG_MAX_BYTES + 1);
	struct pfs_err err = { 0 };
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	int r;

	memset(rep, 0, sizeof(*rep));
	r = catalog_load(d->data_dir, cat, &err);
	if (r == 0 && d->sources_dir)
		r = catalog_set_sources_dir(*cat, d->sources_dir, &err);
	if (r < 0) {
		fprintf(stderr, "pantherfs: %s\n", err.msg);
		return 2;
	}
	r = pfs_read_file(file, &b);
	if (r == -EFBIG) {
		print_line(stderr, "%s: larger than 1 MiB", base);
		return 1;
	}
	if (r < 0) {
		print_line(stderr, "pantherfs: %s: %s", file, strerror(-r));
		return 2;
	}
	r = config_load(*cat, base, b.ptr, b.len, cfg, rep);
	pfs_buf_release(&b);
	return r < 0 ? 1 : 0;
}

/* Per source tree of a service's image: the tarball the build takes, or the repository it clones. */
static int print_sources(const struct cfg_service *s)
{
	struct src_list *l = NULL;
	struct pfs_err err = { 0 };

	if (sources_find(s, &l, &err) < 0) {
		fprintf(stderr, "pantherfs: %s\n", err.msg);
		return -1;
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct src_item *it = &l->v[i];

		if (it->path)
			print_line(stdout, "source: %s: %s: %s", s->name, it->name, it->path);
		else if (*it->repo)
			print_line(stdout, "source: %s: %s: cloned from %s", s->name, it->name, it->repo);
		else
			print_line(stdout, "source: %s: %s: no tarball and no repository to clone", s->name, it->name);
	}
	src_list_free(l);
	return 0;
}

static int cmd_check(const struct dirs *d, int argc, char **argv)
{
	struct catalog *cat = NULL;
	struct pfs_config *cfg = NULL;
	struct cfg_report rep;
	int rc;

	if (argc != 1) {
		fprintf(stderr, "usage: pantherfs check FILE\n");
		return 2;
	}
	rc = load_config_file(d, argv[0], &cat, &cfg, &rep);
	for (size_t i = 0; i < rep.n_errors; i++)
		print_line(stdout, "%s", rep.errors[i]);
	for (size_t i = 0; i < rep.n_warnings; i++)
		print_line(stdout, "warning: %s", rep.warnings[i]);
	for (size_t i = 0; i < rep.n_notes; i++)
		print_line(stdout, "note: %s", rep.notes[i]);
	for (size_t i = 0; cfg && i <= cfg->n_svc; i++) {
		const struct cfg_service *s = i < cfg->n_svc ? &cfg->svc[i] : cfg->netem;
		struct pfs_buf line = PFS_BUF_INIT(1u << 20);
		const struct cfg_image *im;

		if (!s)
			break;
		im = &s->image;
		if (im->prebuilt) {
			print_line(stdout, "image: %s: %s, run as it is", s->name, im->ref);
			pfs_buf_release(&line);
			continue;
		}
		pfs_buf_printf(&line, "image: %s: %s:%s-<context hash>, built from docker/%s/%s with", s->name,
			       im->repo, im->tag_prefix, s->implementation, im->dockerfile);
		for (size_t k = 0; im->args && im->args[k] && im->args[k + 1]; k += 2) {
			pfs_buf_printf(&line, " %s=", im->args[k]);
			pfs_shell_quote(&line, im->args[k + 1]);
		}
		print_line(stdout, "%s", pfs_buf_str(&line));
		pfs_buf_release(&line);
		if (print_sources(s) < 0)
			rc = 2;
	}
	for (size_t i = 0; cfg && i < cfg->n_svc; i++) {
		const struct cfg_service *s = &cfg->svc[i];
		char what[512];

		if (!netcond_active(&s->net) && !s->capture && !s->qlog)
			continue;
		netcond_describe(&s->net, what, sizeof(what));
		print_line(stdout, "network: %s: %s%s%s%s", s->name, what, s->capture ? "; capture.pcap" : "",
			   s->keylog ? ", keys.log" : "", s->qlog ? "; qlog/" : "");
	}
	for (size_t i = 0; cfg && i < cfg->n_svc; i++) {
		const struct cfg_service *s = &cfg->svc[i];
		struct pfs_buf line = PFS_BUF_INIT(1u << 16);

		if (!s->node && !s->constraints[0] && !s->apart_from[0])
			continue;
		pfs_buf_printf(&line, "placement: %s (on a Swarm):", s->name);
		if (s->node)
			pfs_buf_printf(&line, " node.hostname==%s", s->node);
		for (size_t k = 0; s->constraints[k]; k++)
			pfs_buf_printf(&line, "%s %s", s->node || k ? "," : "", s->constraints[k]);
		for (size_t k = 0; s->apart_from[k]; k++)
			pfs_buf_printf(&line, "%s not on the node of %s",
				       s->node || s->constraints[0] || k ? "," : "", s->apart_from[k]);
		print_line(stdout, "%s", pfs_buf_str(&line));
		pfs_buf_release(&line);
	}
	if (cfg)
		printf("ok: %zu service%s, timeout %ld s\n", cfg->n_svc, cfg->n_svc == 1 ? "" : "s", cfg->timeout_s);
	cfg_report_release(&rep);
	config_free(cfg);
	catalog_free(cat);
	return rc;
}

static int cmd_render(const struct dirs *d, int argc, char **argv)
{
	struct catalog *cat = NULL;
	struct pfs_config *cfg = NULL;
	struct cfg_report rep;
	json_t *addr = json_object();
	const char *file = NULL;
	int rc;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--address") && i + 1 < argc)
			a = argv[++i];
		else if (!strncmp(a, "--address=", 10))
			a += 10;
		else if (!file && a[0] != '-') {
			file = a;
			continue;
		} else {
			fprintf(stderr, "usage: pantherfs render FILE [--address SERVICE=IP ...]\n");
			json_decref(addr);
			return 2;
		}
		const char *eq = strchr(a, '=');
		if (!eq || eq == a || !eq[1]) {
			fprintf(stderr, "pantherfs: --address wants SERVICE=IP, not \"%s\"\n", a);
			json_decref(addr);
			return 2;
		}
		char svc[128];
		snprintf(svc, sizeof(svc), "%.*s", (int)(eq - a), a);
		json_object_set_new(addr, svc, json_string(eq + 1));
	}
	if (!file) {
		fprintf(stderr, "usage: pantherfs render FILE [--address SERVICE=IP ...]\n");
		json_decref(addr);
		return 2;
	}
	rc = load_config_file(d, file, &cat, &cfg, &rep);
	for (size_t i = 0; i < rep.n_errors; i++)
		print_line(stderr, "%s", rep.errors[i]);
	for (size_t i = 0; cfg && i < cfg->n_svc; i++) {
		struct pfs_buf line = PFS_BUF_INIT(RENDER_COMMAND_MAX + 1);
		struct pfs_err err = { 0 };

		if (render_command(cat, cfg, &cfg->svc[i], addr, &line, &err) < 0) {
			print_line(stderr, "%s: %s", cfg->svc[i].name, err.msg);
			rc = 1;
		} else {
			print_line(stdout, "%s: %s", cfg->svc[i].name, pfs_buf_str(&line));
		}
		pfs_buf_release(&line);
	}
	cfg_report_release(&rep);
	config_free(cfg);
	catalog_free(cat);
	json_decref(addr);
	return rc;
}

static int cmd_engine(const char *host)
{
	struct docker_client_opts o = { .host = host, .timeout_ms = 10000 };
	struct docker_client *c = NULL;
	struct docker_ping_info pi;
	struct pfs_err err = { 0 };
	json_t *v = NULL;
	int r;

	r = docker_client_new(&o, &c, &err);
	if (r == 0)
		r = docker_ping(c, &pi, &err);
	if (r == 0)
		r = docker_version(c, &v, &err);
	if (r < 0) {
		printf("disconnected: %s\n", pfs_err_str(&err, r));
		docker_client_free(c);
		return 1;
	}
	printf("connected %s api %s\n", json_string_value(json_object_get(v, "Version")) ?: "?",
	       pi.api_version);
	json_decref(v);
	docker_client_free(c);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "docker-host", required_argument, NULL, 'H' },
		{ "data-dir", required_argument, NULL, 'D' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "sources-dir", required_argument, NULL, 'T' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "address", required_argument, NULL, 'A' },
		{ "registry", required_argument, NULL, 'R' },
		{ "swarm", required_argument, NULL, 'W' },
		{ NULL, 0, NULL, 0 },
	};
	struct fuse_args fargs = FUSE_ARGS_INIT(0, NULL);
	struct dirs d = { 0 };
	char *sources_abs = NULL;
	char **rest = calloc((size_t)argc * 2 + 1, sizeof(*rest)), **addr = calloc((size_t)argc + 1, sizeof(*addr));
	bool foreground = false, debug = false, allow_other = false, default_perms = false, unchecked_other = false;
	int nrest = 0, naddr = 0, ch, rc;
	const char *swarm = NULL;

	if (!rest || !addr)
		return 1;
	fuse_opt_add_arg(&fargs, argv[0]);
	/* options anywhere; render's --address values are handed on to render */
	while ((ch = getopt_long(argc, argv, "dfhVo:", opts, NULL)) != -1) {
		switch (ch) {
		case 'H':
			d.host = optarg;
			break;
		case 'D':
			d.data_dir = optarg;
			break;
		case 'S':
			d.state_dir = optarg;
			break;
		case 'T':
			d.sources_dir = optarg;
			break;
		case 'R':
			d.registry = optarg;
			break;
		case 'W':
			swarm = optarg;
			break;
		case 'd':
			debug = true;
			foreground = true;
			pfs_log_set_level(PFS_LOG_DEBUG);
			break;
		case 'f':
			foreground = true;
			break;
		case 'o':
			/* ours (for fstab lines) out, libfuse's on */
			for (char *save = NULL, *o = strtok_r(optarg, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
				if (!strncmp(o, "state_dir=", 10))
					d.state_dir = o + 10;
				else if (!strncmp(o, "data_dir=", 9))
					d.data_dir = o + 9;
				else if (!strncmp(o, "sources_dir=", 12))
					d.sources_dir = o + 12;
				else if (!strncmp(o, "docker_host=", 12))
					d.host = o + 12;
				else if (!strncmp(o, "registry=", 9))
					d.registry = o + 9;
				else if (!strncmp(o, "swarm=", 6))
					swarm = o + 6;
				else if (!strcmp(o, "unchecked_allow_other"))
					unchecked_other = true;
				else {
					allow_other |= !strcmp(o, "allow_other");
					default_perms |= !strcmp(o, "default_permissions");
					fuse_opt_add_arg(&fargs, "-o");
					fuse_opt_add_arg(&fargs, o);
				}
			}
			break;
		case 'A':
			addr[naddr++] = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("pantherfs %s\n", PFS_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	for (int i = optind; i < argc; i++)
		rest[nrest++] = argv[i];
	/* render's --address values, after its file, wherever they were written */
	for (int i = 0; i < naddr; i++) {
		rest[nrest++] = "--address";
		rest[nrest++] = addr[i];
	}
	if (nrest == 0) {
		usage(stderr);
		return 2;
	}
	if (swarm && strcmp(swarm, "auto") && strcmp(swarm, "on") && strcmp(swarm, "off")) {
		print_line(stderr, "pantherfs: --swarm takes auto, on or off, not \"%s\"", swarm);
		rc = 2;
		goto out;
	}
	d.swarm = !swarm || !strcmp(swarm, "auto") ? ENGINE_SWARM_AUTO : !strcmp(swarm, "on") ? ENGINE_SWARM_ON
											      : ENGINE_SWARM_OFF;
	if (d.registry) {
		struct pfs_err rerr = { 0 };

		if (docker_registry_check(d.registry, &rerr) < 0) {
			print_line(stderr, "pantherfs: --registry: %s", rerr.msg);
			rc = 2;
			goto out;
		}
	}
	/* absolute now: a daemon changes to / before it loads anything */
	if (d.sources_dir) {
		sources_abs = realpath(d.sources_dir, NULL);
		if (!sources_abs) {
			fprintf(stderr, "pantherfs: sources dir %s: %s\n", d.sources_dir, strerror(errno));
			rc = 2;
			goto out;
		}
		d.sources_dir = sources_abs;
	}
	if (!d.data_dir)
		d.data_dir = catalog_default_data_dir();
	if (!d.state_dir)
		d.state_dir = default_state_dir();
	if (allow_other && !default_perms && !unchecked_other && strcmp(rest[0], "engine") && strcmp(rest[0], "check") &&
	    strcmp(rest[0], "render")) {
		/*
		 * Other users would reach root's Docker engine through files whose
		 * modes nobody checks: with allow_other the kernel must enforce them.
		 */
		fprintf(stderr, "pantherfs: -o allow_other needs -o default_permissions too (the kernel then enforces "
				"the modes: only the mounting user writes); -o unchecked_allow_other mounts without "
				"it anyway\n");
		rc = 2;
	} else if (!strcmp(rest[0], "engine"))
		rc = cmd_engine(d.host);
	else if (!strcmp(rest[0], "check"))
		rc = cmd_check(&d, nrest - 1, rest + 1);
	else if (!strcmp(rest[0], "render"))
		rc = cmd_render(&d, nrest - 1, rest + 1);
	else if (nrest == 1)
		rc = cmd_mount(rest[0], &d, foreground, debug, &fargs);
	else if (nrest == 2)
		/* mount.fuse3 (an fstab line) calls: pantherfs SOURCE MOUNTPOINT -o OPTS */
		rc = cmd_mount(rest[1], &d, foreground, debug, &fargs);
	else {
		fprintf(stderr, "pantherfs: one mountpoint, not \"%s %s\"\n", rest[0], rest[1]);
		usage(stderr);
		rc = 2;
	}
out:
	fuse_opt_free_args(&fargs);
	free(sources_abs);
	free(rest);
	free(addr);
	return rc;
}
