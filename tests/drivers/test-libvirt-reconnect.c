/* The libvirt driver survives a libvirtd restart: one prlkit connection to a private
 * libvirtd (libvirt's test hypervisor served by a real daemon, so no QEMU and no system
 * daemon is involved) whose daemon is killed and started again. While it is down, requests
 * fail with a clean "connection lost" error (never "VM not found"); once it is back, the
 * same connection works again, domain events flow again, and the configuration cache does
 * not serve what it held before the restart. One warning is logged for the outage.
 *
 * What changed while it was down is reported as events after the reconnect: a restart
 * brings the test hypervisor back to its default domains, undoing a pause, removing domains
 * defined since and bringing back one undefined.
 *
 * Skips when libvirtd is not installed (or, as root, when there is no `nobody` user or no
 * setpriv to run the daemon as one: a root libvirtd would take over the system's paths). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "prlkit/Parallels.h"
#include "prlkit/PrlApiExt.h"
#include "test-state-watch.h"

/* ------------------------------------------------------- a private libvirtd ---- */

static struct {
	char *libvirtd;               /* the program */
	char *setpriv;                /* as root: runs it as `nobody` */
	uid_t uid;
	gid_t gid;
	char *dir;                    /* conf, log, home and run directories */
	char *uri;                    /* test+unix:///default?socket=<dir>/run/libvirt-sock */
	GPid pid;                     /* 0 when not running */
} lvd;

static char *why_skip(void)
{
	g_clear_pointer(&lvd.libvirtd, g_free);   /* a previous test's */
	g_clear_pointer(&lvd.setpriv, g_free);
	lvd.libvirtd = g_find_program_in_path("libvirtd");
	if (lvd.libvirtd == NULL && g_file_test("/usr/sbin/libvirtd", G_FILE_TEST_IS_EXECUTABLE))
		lvd.libvirtd = g_strdup("/usr/sbin/libvirtd");
	if (lvd.libvirtd == NULL)
		return g_strdup("libvirtd is not installed");
	lvd.uid = getuid();
	lvd.gid = getgid();
	if (lvd.uid == 0) {
		struct passwd *pw = getpwnam("nobody");
		lvd.setpriv = g_find_program_in_path("setpriv");
		if (pw == NULL || lvd.setpriv == NULL)
			return g_strdup("as root, the daemon runs as nobody with setpriv: missing");
		lvd.uid = pw->pw_uid;
		lvd.gid = pw->pw_gid;
	}
	return NULL;
}

static void quiet(void *data, virErrorPtr e)
{
}

static char *lvd_path(const char *name)
{
	return g_build_filename(lvd.dir, name, NULL);
}

static void lvd_setup(void)
{
	g_autoptr(GError) error = NULL;
	g_clear_pointer(&lvd.dir, g_free);   /* a previous test's */
	g_clear_pointer(&lvd.uri, g_free);
	lvd.dir = g_dir_make_tmp("prlkit-lvd-XXXXXX", &error);   /* short: a socket path */
	g_assert_no_error(error);
	g_assert_cmpint(g_chmod(lvd.dir, 0755), ==, 0);
	const char *owned[] = { "home", "run", NULL };
	for (guint i = 0; owned[i] != NULL; i++) {
		g_autofree char *d = lvd_path(owned[i]);
		g_assert_cmpint(g_mkdir(d, 0700), ==, 0);
		g_assert_cmpint(chown(d, lvd.uid, lvd.gid), ==, 0);
	}
	g_autofree char *run = lvd_path("run");
	g_autofree char *conf = lvd_path("libvirtd.conf");
	g_autofree char *text = g_strdup_printf("unix_sock_dir = \"%s\"\n", run);
	g_assert_true(g_file_set_contents(conf, text, -1, NULL));
	g_assert_cmpint(g_chmod(conf, 0644), ==, 0);
	lvd.uri = g_strdup_printf("test+unix:///default?socket=%s/libvirt-sock", run);
}

/* Starts the daemon and waits until it answers; returns a libvirt connection of the test's
 * own (to change domains behind prlkit's back). */
static virConnectPtr lvd_start(void)
{
	g_autofree char *home = lvd_path("home");
	g_autofree char *run = lvd_path("run");
	g_autofree char *conf = lvd_path("libvirtd.conf");
	g_autofree char *log = lvd_path("libvirtd.log");
	g_autofree char *e_home = g_strdup_printf("HOME=%s", home);
	g_autofree char *e_run = g_strdup_printf("XDG_RUNTIME_DIR=%s", run);
	g_autofree char *e_cfg = g_strdup_printf("XDG_CONFIG_HOME=%s/.config", home);
	g_autofree char *e_cache = g_strdup_printf("XDG_CACHE_HOME=%s/.cache", home);
	g_autofree char *reuid = g_strdup_printf("--reuid=%u", (unsigned)lvd.uid);
	g_autofree char *regid = g_strdup_printf("--regid=%u", (unsigned)lvd.gid);
	char *envp[] = { e_home, e_run, e_cfg, e_cache, "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	                 NULL };
	/* -t: should the test die, the daemon leaves 30 s after its last client. */
	GPtrArray *argv = g_ptr_array_new();
	if (lvd.setpriv != NULL) {
		g_ptr_array_add(argv, lvd.setpriv);
		g_ptr_array_add(argv, reuid);
		g_ptr_array_add(argv, regid);
		g_ptr_array_add(argv, "--clear-groups");
		g_ptr_array_add(argv, "--");
	}
	g_ptr_array_add(argv, lvd.libvirtd);
	g_ptr_array_add(argv, "-f");
	g_ptr_array_add(argv, conf);
	g_ptr_array_add(argv, "-t");
	g_ptr_array_add(argv, "30");
	g_ptr_array_add(argv, NULL);
	int fd = g_open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	g_assert_cmpint(fd, >=, 0);
	g_autoptr(GError) error = NULL;
	gboolean ok = g_spawn_async_with_fds(NULL, (char **)argv->pdata, envp,
	                                     G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &lvd.pid,
	                                     -1, fd, fd, &error);
	close(fd);
	g_ptr_array_free(argv, TRUE);
	g_assert_no_error(error);
	g_assert_true(ok);

	virConnectPtr raw = NULL;
	virSetErrorFunc(NULL, quiet);   /* the refusals while it starts */
	gboolean gone = FALSE;
	for (int i = 0; i < 200 && raw == NULL && !gone; i++) {
		raw = virConnectOpen(lvd.uri);
		if (raw == NULL) {
			virResetLastError();
			gone = waitpid(lvd.pid, NULL, WNOHANG) != 0;
			g_usleep(50 * 1000);
		}
	}
	if (raw == NULL) {
		g_autofree char *text = NULL;
		g_file_get_contents(log, &text, NULL, NULL);
		g_printerr("libvirtd did not start; its log:\n%s\n", text != NULL ? text : "");
	}
	g_assert_nonnull(raw);
	return raw;
}

/* A crash: the socket closes at once, every client sees its connection end. */
static void lvd_kill(void)
{
	g_assert_cmpint(kill(lvd.pid, SIGKILL), ==, 0);
	int st = 0;
	while (waitpid(lvd.pid, &st, 0) < 0 && errno == EINTR)
		;
	lvd.pid = 0;
}

static void rm_tree(const char *path)
{
	GDir *d = g_dir_open(path, 0, NULL);
	if (d != NULL) {
		const char *name;
		while ((name = g_dir_read_name(d)) != NULL) {
			g_autofree char *p = g_build_filename(path, name, NULL);
			rm_tree(p);
		}
		g_dir_close(d);
	}
	g_remove(path);
}

/* ------------------------------------------------------------- the API side ---- */

static void wait_ok(PRL_HANDLE job)
{
	g_assert_true(job != PRL_INVALID_HANDLE);
	g_assert_cmpint(PrlJob_Wait(job, 30000), ==, PRL_ERR_SUCCESS);
	PRL_RESULT rc = PRL_ERR_UNEXPECTED;
	g_assert_cmpint(PrlJob_GetRetCode(job, &rc), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(rc, ==, PRL_ERR_SUCCESS);
}

static void wait_free(PRL_HANDLE job)
{
	wait_ok(job);
	PrlHandle_Free(job);
}

/* A job's outcome: its code, and its error message in *message. */
static PRL_RESULT job_outcome(PRL_HANDLE job, char **message)
{
	g_assert_true(job != PRL_INVALID_HANDLE);
	g_assert_cmpint(PrlJob_Wait(job, 30000), ==, PRL_ERR_SUCCESS);
	PRL_RESULT rc = PRL_ERR_UNEXPECTED;
	g_assert_cmpint(PrlJob_GetRetCode(job, &rc), ==, PRL_ERR_SUCCESS);
	char buf[1024] = "";
	if (PRL_FAILED(rc)) {
		PRL_HANDLE err = PRL_INVALID_HANDLE;
		PRL_UINT32 len = sizeof(buf);
		if (PRL_SUCCEEDED(PrlJob_GetError(job, &err))) {
			PrlEvent_GetErrString(err, PRL_FALSE, PRL_FALSE, buf, &len);
			PrlHandle_Free(err);
		}
	}
	*message = g_strdup(buf);
	return rc;
}

static char *get_str(PRL_HANDLE h, PRL_RESULT (*fn)(PRL_HANDLE, PRL_STR, PRL_UINT32_PTR))
{
	char buf[512];
	PRL_UINT32 len = sizeof(buf);
	g_assert_cmpint(fn(h, buf, &len), ==, PRL_ERR_SUCCESS);
	return g_strdup(buf);
}

/* The VM with that id from a list, or PRL_INVALID_HANDLE; FALSE when the list failed. */
static gboolean list_find(PRL_HANDLE srv, const char *id, PRL_HANDLE *vm, char **message)
{
	PRL_HANDLE job = PrlSrv_GetVmList(srv);
	PRL_RESULT rc = job_outcome(job, message);
	*vm = PRL_INVALID_HANDLE;
	if (PRL_FAILED(rc)) {
		PrlHandle_Free(job);
		return FALSE;
	}
	PRL_HANDLE res = PRL_INVALID_HANDLE;
	PRL_UINT32 count = 0;
	g_assert_cmpint(PrlJob_GetResult(job, &res), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlResult_GetParamsCount(res, &count), ==, PRL_ERR_SUCCESS);
	for (PRL_UINT32 i = 0; i < count; i++) {
		PRL_HANDLE h = PRL_INVALID_HANDLE;
		g_assert_cmpint(PrlResult_GetParamByIndex(res, i, &h), ==, PRL_ERR_SUCCESS);
		g_autofree char *hid = get_str(h, PrlVmCfg_GetUuid);
		if (*vm == PRL_INVALID_HANDLE && strcmp(hid, id) == 0)
			*vm = h;
		else
			PrlHandle_Free(h);
	}
	PrlHandle_Free(res);
	PrlHandle_Free(job);
	return TRUE;
}

static char *description_of(PRL_HANDLE srv, const char *id)
{
	PRL_HANDLE vm = PRL_INVALID_HANDLE;
	g_autofree char *message = NULL;
	g_assert_true(list_find(srv, id, &vm, &message));
	g_assert_true(vm != PRL_INVALID_HANDLE);
	char *d = get_str(vm, PrlVmCfg_GetDescription);
	PrlHandle_Free(vm);
	return d;
}

/* --------------------------------------------------------- events, warnings ---- */

static gint lost_warnings;           /* atomic: the driver's "connection ... was closed" */
static gint back_messages;           /* atomic: its "reconnected to ..." */

static GLogWriterOutput writer(GLogLevelFlags level, const GLogField *fields, gsize n,
                               gpointer data)
{
	const char *domain = NULL, *message = NULL;
	for (gsize i = 0; i < n; i++) {
		if (strcmp(fields[i].key, "GLIB_DOMAIN") == 0)
			domain = fields[i].value;
		else if (strcmp(fields[i].key, "MESSAGE") == 0)
			message = fields[i].value;
	}
	if (g_strcmp0(domain, "prlkit-libvirt") == 0 && message != NULL) {
		if ((level & G_LOG_LEVEL_WARNING) && strstr(message, "was closed") != NULL) {
			g_atomic_int_inc(&lost_warnings);
			return G_LOG_WRITER_HANDLED;
		}
		if ((level & G_LOG_LEVEL_MESSAGE) && strstr(message, "reconnected to") != NULL) {
			g_atomic_int_inc(&back_messages);
			return G_LOG_WRITER_HANDLED;
		}
	}
	/* Anything else is shown, and a warning stays fatal (g_test_init). */
	return g_log_writer_default(level, fields, n, data);
}

/* ---------------------------------------------------------------- the test ---- */

static void test_restart(void)
{
	g_autofree char *skip = why_skip();
	if (skip != NULL) {
		g_test_skip(skip);
		return;
	}
	lvd_setup();
	virConnectPtr raw = lvd_start();
	virDomainPtr dom = virDomainLookupByName(raw, "test");
	g_assert_nonnull(dom);
	char uuid[VIR_UUID_STRING_BUFLEN];
	g_assert_cmpint(virDomainGetUUIDString(dom, uuid), ==, 0);
	sw_follow(uuid);

	PRL_HANDLE srv = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlSrv_Create(&srv), ==, PRL_ERR_SUCCESS);
	wait_free(PrlSrv_Connect(srv, lvd.uri, NULL, 0));
	g_assert_cmpint(PrlSrv_RegEventHandler(srv, sw_on_event, NULL), ==, PRL_ERR_SUCCESS);
	PRL_HANDLE vm = PRL_INVALID_HANDLE;
	g_autofree char *message = NULL;
	g_assert_true(list_find(srv, uuid, &vm, &message));
	g_assert_true(vm != PRL_INVALID_HANDLE);

	/* Events flow (the watcher starts on its own thread: pause until it reports). */
	gboolean seen = FALSE;
	for (int i = 0; i < 30 && !seen; i++) {
		g_assert_cmpint(virDomainSuspend(dom), ==, 0);
		seen = sw_wait(VMS_PAUSED, 1);
		if (!seen)
			g_assert_cmpint(virDomainResume(dom), ==, 0);
	}
	g_assert_true(seen);
	g_assert_cmpint(virDomainResume(dom), ==, 0);
	g_assert_true(sw_wait(VMS_RUNNING, 15));

	/* A description set behind prlkit's back is read (the event dropped the cached one)
	 * and cached; the daemon's restart forgets it without telling anyone. */
	g_assert_cmpint(virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_DESCRIPTION, "before",
	                                     NULL, NULL, VIR_DOMAIN_AFFECT_LIVE), ==, 0);
	g_autofree char *before = NULL;
	for (int i = 0; i < 100; i++) {
		g_free(before);
		before = description_of(srv, uuid);
		if (strcmp(before, "before") == 0)
			break;
		g_usleep(50 * 1000);
	}
	g_assert_cmpstr(before, ==, "before");
	virDomainFree(dom);
	virConnectClose(raw);

	/* libvirtd dies: clean errors, for reads and writes, never "not found". */
	lvd_kill();
	for (int i = 0; i < 3; i++) {
		PRL_HANDLE none = PRL_INVALID_HANDLE;
		g_clear_pointer(&message, g_free);
		g_assert_false(list_find(srv, uuid, &none, &message));
		g_test_message("list while libvirtd is down: %s", message);
		g_assert_nonnull(strstr(message, "connection lost"));
	}
	PRL_HANDLE job = PrlVm_RefreshConfig(vm);
	g_clear_pointer(&message, g_free);
	g_assert_cmpint(job_outcome(job, &message), ==, PRL_ERR_CANT_CONNECT_TO_DISPATCHER);
	PrlHandle_Free(job);
	g_assert_nonnull(strstr(message, "connection lost"));
	job = PrlVm_Pause(vm, PRL_FALSE);
	g_clear_pointer(&message, g_free);
	g_assert_cmpint(job_outcome(job, &message), ==, PRL_ERR_CANT_CONNECT_TO_DISPATCHER);
	PrlHandle_Free(job);
	g_assert_cmpint(g_atomic_int_get(&lost_warnings), ==, 1);
	g_assert_cmpint(g_atomic_int_get(&back_messages), ==, 0);

	/* It is back: the same connection works again (reconnect attempts are at most one a
	 * second, so the first requests may still fail). */
	raw = lvd_start();
	dom = virDomainLookupByName(raw, "test");
	g_assert_nonnull(dom);
	PRL_HANDLE again = PRL_INVALID_HANDLE;
	gboolean back = FALSE;
	for (int i = 0; i < 100 && !back; i++) {
		g_clear_pointer(&message, g_free);
		back = list_find(srv, uuid, &again, &message);
		if (!back)
			g_usleep(100 * 1000);
	}
	g_assert_true(back);
	g_assert_true(again != PRL_INVALID_HANDLE);
	/* What the new daemon says, not what a list cached before it (a get would refresh
	 * the cache: lists only, here). */
	g_autofree char *after = get_str(again, PrlVmCfg_GetDescription);
	g_assert_cmpstr(after, ==, "");
	PrlHandle_Free(again);
	g_clear_pointer(&after, g_free);
	after = description_of(srv, uuid);
	g_assert_cmpstr(after, ==, "");
	wait_free(PrlVm_RefreshConfig(vm));

	/* Events flow again, on the new connection. */
	g_assert_cmpint(virDomainSuspend(dom), ==, 0);
	g_assert_true(sw_wait(VMS_PAUSED, 15));
	g_assert_cmpint(virDomainResume(dom), ==, 0);
	g_assert_true(sw_wait(VMS_RUNNING, 15));
	wait_free(PrlVm_Pause(vm, PRL_FALSE));
	g_assert_true(sw_wait(VMS_PAUSED, 15));
	g_assert_cmpint(g_atomic_int_get(&lost_warnings), ==, 1);
	g_assert_cmpint(g_atomic_int_get(&back_messages), ==, 1);

	g_assert_cmpint(PrlSrv_UnregEventHandler(srv, sw_on_event, NULL), ==, PRL_ERR_SUCCESS);
	PrlHandle_Free(vm);
	wait_free(PrlSrv_Logoff(srv));
	PrlHandle_Free(srv);
	virDomainFree(dom);
	virConnectClose(raw);
	lvd_kill();
	rm_tree(lvd.dir);

	PRL_UINT32 n = 1;
	g_assert_cmpint(PrlDbg_GetHandlesNum(&n, PHT_ERROR), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 0);
}

/* ------------------------------------------------ changes while disconnected ---- */

/* Every platform event a server handler got: "<issuer> <event>" in order. */
typedef struct {
	char *id;
	PRL_EVENT_TYPE type;
	PRL_INT32 state;                   /* PET_DSP_EVT_VM_STATE_CHANGED */
} seen_event;

static struct {
	GMutex lock;
	GCond more;
	GArray *list;                      /* lock: seen_event */
} seen;

static PRL_RESULT on_any_event(PRL_HANDLE h, PRL_VOID_PTR data)
{
	PRL_HANDLE_TYPE type = PHT_ERROR;
	seen_event e = { NULL, PET_VM_INF_UNINITIALIZED_EVENT_CODE, VMS_UNKNOWN };
	PrlHandle_GetType(h, &type);
	if (type == PHT_EVENT && PRL_SUCCEEDED(PrlEvent_GetType(h, &e.type))) {
		char id[64] = "";
		PRL_UINT32 len = sizeof(id);
		PRL_HANDLE p = PRL_INVALID_HANDLE;
		PrlEvent_GetIssuerId(h, id, &len);
		if (PRL_SUCCEEDED(PrlEvent_GetParamByName(h, EVT_PARAM_VMINFO_VM_STATE, &p))) {
			PrlEvtPrm_ToInt32(p, &e.state);
			PrlHandle_Free(p);
		}
		e.id = g_strdup(id);
		g_mutex_lock(&seen.lock);
		g_array_append_val(seen.list, e);
		g_cond_broadcast(&seen.more);
		g_mutex_unlock(&seen.lock);
	}
	PrlHandle_Free(h);
	return PRL_ERR_SUCCESS;
}

static const char *event_word(const seen_event *e)
{
	switch (e->type) {
	case PET_DSP_EVT_VM_STATE_CHANGED:
		return e->state == VMS_RUNNING ? "changed(running)"
		     : e->state == VMS_STOPPED ? "changed(stopped)"
		     : e->state == VMS_PAUSED ? "changed(paused)" : "changed(other)";
	case PET_DSP_EVT_VM_STARTED: return "started";
	case PET_DSP_EVT_VM_STOPPED: return "stopped";
	case PET_DSP_EVT_VM_PAUSED: return "paused";
	case PET_DSP_EVT_VM_CONTINUED: return "continued";
	case PET_DSP_EVT_VM_ADDED: return "added";
	case PET_DSP_EVT_VM_DELETED: return "deleted";
	default: return "other";
	}
}

static guint seen_count(void)
{
	g_mutex_lock(&seen.lock);
	guint n = seen.list->len;
	g_mutex_unlock(&seen.lock);
	return n;
}

/* The events of VM id from index `from` on, as "changed(running), continued". Caller holds
 * the lock. */
static char *events_of_locked(const char *id, guint from)
{
	GString *s = g_string_new(NULL);
	for (guint i = from; i < seen.list->len; i++) {
		const seen_event *e = &g_array_index(seen.list, seen_event, i);
		if (strcmp(e->id, id) == 0)
			g_string_append_printf(s, "%s%s", s->len > 0 ? ", " : "", event_word(e));
	}
	return g_string_free(s, FALSE);
}

/* Waits (bounded) until VM id's events from `from` on are `want`; returns what they are. */
static char *await_events(const char *id, guint from, const char *want, int seconds)
{
	gint64 until = g_get_monotonic_time() + seconds * G_TIME_SPAN_SECOND;
	g_mutex_lock(&seen.lock);
	char *have = events_of_locked(id, from);
	while (strcmp(have, want) != 0 && g_cond_wait_until(&seen.more, &seen.lock, until)) {
		g_free(have);
		have = events_of_locked(id, from);
	}
	g_mutex_unlock(&seen.lock);
	return have;
}

static char *uuid_of(virDomainPtr dom)
{
	char uuid[VIR_UUID_STRING_BUFLEN];
	g_assert_cmpint(virDomainGetUUIDString(dom, uuid), ==, 0);
	return g_strdup(uuid);
}

static virDomainPtr define_domain(virConnectPtr raw, const char *name)
{
	g_autofree char *xml = g_strdup_printf("<domain type='test'><name>%s</name>"
	                                       "<memory unit='KiB'>8192</memory>"
	                                       "<os><type>hvm</type></os></domain>", name);
	virDomainPtr dom = virDomainDefineXML(raw, xml);
	g_assert_nonnull(dom);
	return dom;
}

static void restart_daemon(virConnectPtr *raw)
{
	virConnectClose(*raw);
	lvd_kill();
	*raw = lvd_start();
}

static void test_changes_while_down(void)
{
	g_autofree char *skip = why_skip();
	if (skip != NULL) {
		g_test_skip(skip);
		return;
	}
	lvd_setup();
	virConnectPtr raw = lvd_start();
	virDomainPtr test = virDomainLookupByName(raw, "test");
	g_assert_nonnull(test);
	g_autofree char *test_id = uuid_of(test);

	PRL_HANDLE srv = PRL_INVALID_HANDLE;
	g_assert_cmpint(PrlSrv_Create(&srv), ==, PRL_ERR_SUCCESS);
	wait_free(PrlSrv_Connect(srv, lvd.uri, NULL, 0));
	g_assert_cmpint(PrlSrv_RegEventHandler(srv, on_any_event, NULL), ==, PRL_ERR_SUCCESS);

	/* Events flow (the watcher starts on its own thread): a domain defined behind prlkit's
	 * back is reported, repeatedly until the watcher runs. */
	g_autofree char *gone_id = NULL;
	gboolean flowing = FALSE;
	for (int i = 0; i < 30 && !flowing; i++) {
		guint from = seen_count();
		virDomainPtr gone = define_domain(raw, "prlkit-gone");
		g_free(gone_id);
		gone_id = uuid_of(gone);
		g_autofree char *got = await_events(gone_id, from, "added, changed(stopped), stopped",
		                                    1);
		flowing = strcmp(got, "added, changed(stopped), stopped") == 0;
		if (!flowing)
			g_assert_cmpint(virDomainUndefine(gone), ==, 0);
		virDomainFree(gone);
	}
	g_assert_true(flowing);
	guint from = seen_count();
	g_assert_cmpint(virDomainSuspend(test), ==, 0);
	g_autofree char *paused = await_events(test_id, from, "changed(paused), paused", 15);
	g_assert_cmpstr(paused, ==, "changed(paused), paused");
	/* The test's VM object, from a list: its cached state follows the reports. */
	PRL_HANDLE vm = PRL_INVALID_HANDLE;
	g_autofree char *message = NULL;
	g_assert_true(list_find(srv, test_id, &vm, &message));
	g_assert_true(vm != PRL_INVALID_HANDLE);
	virDomainFree(test);

	/* Restart 1, no request from prlkit: its watcher reconnects. The restart undid the
	 * pause and removed prlkit-gone. */
	from = seen_count();
	restart_daemon(&raw);
	g_autofree char *test_after = await_events(test_id, from, "changed(running), continued", 30);
	g_assert_cmpstr(test_after, ==, "changed(running), continued");
	g_autofree char *gone_after = await_events(gone_id, from, "deleted", 15);
	g_assert_cmpstr(gone_after, ==, "deleted");
	PRL_HANDLE info = PRL_INVALID_HANDLE;
	VIRTUAL_MACHINE_STATE st = VMS_UNKNOWN;
	g_assert_cmpint(PrlVmCfg_GetVmInfo(vm, &info), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(PrlVmInfo_GetState(info, &st), ==, PRL_ERR_SUCCESS);
	g_assert_cmpint(st, ==, VMS_RUNNING);
	PrlHandle_Free(info);
	PrlHandle_Free(vm);
	/* Nothing else: a request's job comes after whatever the resync reported. */
	wait_free(PrlSrv_GetSrvConfig(srv));
	g_assert_cmpuint(seen_count(), ==, from + 3);

	/* Restart 2, a request reconnects (or the watcher, should it be first): "test" was
	 * undefined and comes back, prlkit-other was defined and goes. */
	test = virDomainLookupByName(raw, "test");
	g_assert_nonnull(test);
	g_assert_cmpint(virDomainDestroy(test), ==, 0);
	g_assert_cmpint(virDomainUndefine(test), ==, 0);
	virDomainFree(test);
	virDomainPtr other = define_domain(raw, "prlkit-other");
	g_autofree char *other_id = uuid_of(other);
	virDomainFree(other);
	g_autofree char *before = await_events(other_id, from, "added, changed(stopped), stopped",
	                                       15);
	g_assert_cmpstr(before, ==, "added, changed(stopped), stopped");
	g_autofree char *undefined = await_events(test_id, from + 3,
	                                          "changed(stopped), stopped, deleted", 15);
	g_assert_cmpstr(undefined, ==, "changed(stopped), stopped, deleted");
	from = seen_count();
	restart_daemon(&raw);
	gboolean back = FALSE;
	for (int i = 0; i < 100 && !back; i++) {
		PRL_HANDLE none = PRL_INVALID_HANDLE;
		g_clear_pointer(&message, g_free);
		back = list_find(srv, other_id, &none, &message);
		g_assert_true(none == PRL_INVALID_HANDLE);
		if (!back)
			g_usleep(100 * 1000);
	}
	g_assert_true(back);
	g_autofree char *test_back = await_events(test_id, from, "added, changed(running), started",
	                                          15);
	g_assert_cmpstr(test_back, ==, "added, changed(running), started");
	g_autofree char *other_gone = await_events(other_id, from, "deleted", 15);
	g_assert_cmpstr(other_gone, ==, "deleted");
	wait_free(PrlSrv_GetSrvConfig(srv));
	g_assert_cmpuint(seen_count(), ==, from + 4);

	g_assert_cmpint(PrlSrv_UnregEventHandler(srv, on_any_event, NULL), ==, PRL_ERR_SUCCESS);
	wait_free(PrlSrv_Logoff(srv));
	PrlHandle_Free(srv);
	virConnectClose(raw);
	lvd_kill();
	rm_tree(lvd.dir);

	PRL_UINT32 n = 1;
	g_assert_cmpint(PrlDbg_GetHandlesNum(&n, PHT_ERROR), ==, PRL_ERR_SUCCESS);
	g_assert_cmpuint(n, ==, 0);
}

int main(int argc, char **argv)
{
	g_assert_cmpint(PrlApi_InitEx(PARALLELS_API_VER, PAM_SERVER, 0, 0), ==, PRL_ERR_SUCCESS);
	g_test_init(&argc, &argv, NULL);
	g_log_set_writer_func(writer, NULL, NULL);
	g_mutex_init(&seen.lock);
	g_cond_init(&seen.more);
	seen.list = g_array_new(FALSE, TRUE, sizeof(seen_event));
	g_test_add_func("/libvirt-reconnect/restart", test_restart);
	g_test_add_func("/libvirt-reconnect/changes-while-down", test_changes_while_down);
	int rc = g_test_run();
	if (lvd.pid != 0)
		kill(lvd.pid, SIGKILL);
	PrlApi_Deinit();
	for (guint i = 0; i < seen.list->len; i++)
		g_free(g_array_index(seen.list, seen_event, i).id);
	g_array_unref(seen.list);
	g_free(lvd.dir);
	g_free(lvd.uri);
	g_free(lvd.libvirtd);
	g_free(lvd.setpriv);
	return rc;
}
