/* The sim state directory: loading, validating, caching and crash-safe writing of the one
 * JSON document, and the read-only views built from it.
 *
 * Crash safety: a writer serializes the whole document into <dir>/state.json.tmp and
 * renames it over state.json, so a reader (or a process killed at any instant) only ever
 * sees a complete old or new document. Writers hold an exclusive flock on <dir>/lock for
 * the whole read-modify-write, on a descriptor of their own, so writers in other processes
 * and in other threads of this one never lose each other's updates.
 *
 * Cache: per process and directory, the parsed document and a view built from it are kept
 * while stat(state.json) gives the same (dev, inode, size, mtime). Writers make that
 * identity change on every generation: a new file (new inode while the old still exists)
 * whose mtime is forced strictly above the previous one, so even a reused inode with the
 * same size within one timestamp tick cannot look unchanged. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim-private.h"
#include "util-time.h"

struct sim_store {
	gint refcount;          /* global stores_lock */
	char *dir;              /* immutable */
	char *state_path;       /* immutable */
	char *tmp_path;         /* immutable */
	char *lock_path;        /* immutable */
	gint fsync;             /* atomic: once TRUE (any connection asked), stays TRUE */
	GMutex lock;            /* protects doc, id, have_id, view */
	json_t *doc;            /* lock: parsed document, NULL while a writer owns it */
	sim_file_id id;         /* lock: identity of the file doc and view came from */
	gboolean have_id;       /* lock */
	sim_view *view;         /* lock: built lazily from doc */
};

G_LOCK_DEFINE_STATIC(stores);
static GHashTable *stores;  /* stores lock: dir → sim_store* (borrowed) */

sim_store *
sim_store_get(const char *dir)
{
	sim_store *st;

	G_LOCK(stores);
	if (!stores)
		stores = g_hash_table_new(g_str_hash, g_str_equal);
	st = g_hash_table_lookup(stores, dir);
	if (st) {
		st->refcount++;
	} else {
		st = g_new0(sim_store, 1);
		st->refcount = 1;
		st->dir = g_strdup(dir);
		st->state_path = g_build_filename(dir, SIM_STATE_FILE, NULL);
		st->tmp_path = g_build_filename(dir, SIM_STATE_FILE ".tmp", NULL);
		st->lock_path = g_build_filename(dir, SIM_LOCK_FILE, NULL);
		g_mutex_init(&st->lock);
		g_hash_table_insert(stores, st->dir, st);
	}
	G_UNLOCK(stores);
	return st;
}

void
sim_store_unref(sim_store *st)
{
	if (!st)
		return;
	G_LOCK(stores);
	if (--st->refcount > 0) {
		G_UNLOCK(stores);
		return;
	}
	g_hash_table_remove(stores, st->dir);
	if (g_hash_table_size(stores) == 0)
		g_clear_pointer(&stores, g_hash_table_unref);
	G_UNLOCK(stores);

	if (st->view)
		sim_view_unref(st->view);
	if (st->doc)
		json_decref(st->doc);
	g_mutex_clear(&st->lock);
	g_free(st->lock_path);
	g_free(st->tmp_path);
	g_free(st->state_path);
	g_free(st->dir);
	g_free(st);
}

const char *
sim_store_dir(sim_store *st)
{
	return st->dir;
}

void
sim_store_set_fsync(sim_store *st, gboolean on)
{
	if (on)
		g_atomic_int_set(&st->fsync, TRUE);
}

/* ---- file identity ---- */

static void
file_id_from_stat(const struct stat *sb, sim_file_id *id)
{
	id->dev = sb->st_dev;
	id->ino = sb->st_ino;
	id->size = sb->st_size;
	id->mtime_ns = (gint64)sb->st_mtim.tv_sec * G_GINT64_CONSTANT(1000000000) +
	               sb->st_mtim.tv_nsec;
}

gboolean
sim_file_id_equal(const sim_file_id *a, const sim_file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns;
}

gboolean
sim_store_stat(sim_store *st, sim_file_id *out)
{
	struct stat sb;

	if (stat(st->state_path, &sb) < 0)
		return FALSE;
	file_id_from_stat(&sb, out);
	return TRUE;
}

gboolean
sim_store_exists(sim_store *st)
{
	sim_file_id id;
	return sim_store_stat(st, &id);
}

static PRL_RESULT
errno_result(int err)
{
	switch (err) {
	case EACCES:
	case EPERM:
	case EROFS:
		return PRL_ERR_ACCESS_DENIED;
	case ENOSPC:
	case EDQUOT:
		return PRL_ERR_NOT_ENOUGH_DISK_FREE_SPACE;
	case ENOENT:
		return PRL_ERR_FILE_NOT_FOUND;
	default:
		return PRL_ERR_OPERATION_FAILED;
	}
}

static gboolean
set_errno_error(GError **error, int err, const char *what, const char *path)
{
	sim_set_error(error, errno_result(err), "sim: cannot %s '%s': %s", what, path,
	              g_strerror(err));
	return FALSE;
}

/* ---- document checks ---- */

gboolean
sim_doc_validate(json_t *doc, GError **error)
{
	json_t *vms, *tasks, *vm;
	gsize i;
	const char *key;
	json_t *task;
	g_autoptr(GHashTable) ids = NULL;

	if (!json_is_object(doc) || g_strcmp0(sim_jstr(doc, "format"), SIM_FORMAT) != 0) {
		sim_set_error(error, PRL_ERR_INVALID_CONFIGURATION,
		              "sim: the state file is not a prlkit-sim document");
		return FALSE;
	}
	if (sim_jint(doc, "version") != SIM_FORMAT_VERSION) {
		sim_set_error(error, PRL_ERR_INVALID_CONFIGURATION,
		              "sim: unsupported state file version %" G_GINT64_FORMAT,
		              sim_jint(doc, "version"));
		return FALSE;
	}
	vms = json_object_get(doc, "vms");
	tasks = json_object_get(doc, "tasks");
	if (!json_is_array(vms) || (tasks && !json_is_object(tasks))) {
		sim_set_error(error, PRL_ERR_INVALID_CONFIGURATION,
		              "sim: the state file lacks its 'vms' array or has a bad 'tasks'");
		return FALSE;
	}
	ids = g_hash_table_new(g_str_hash, g_str_equal);
	json_array_foreach(vms, i, vm) {
		const char *id = sim_jstr(vm, "id");
		const char *via = sim_jstr(vm, "via");
		json_t *snaps = json_object_get(vm, "snaps");
		json_t *snap;
		gsize j;

		if (!json_is_object(vm) || !id || !*id || !sim_jstr(vm, "name") ||
		    !sim_word_intern(sim_jstr(vm, "st")) || (via && !sim_word_intern(via)) ||
		    (snaps && !json_is_array(snaps))) {
			sim_set_error(error, PRL_ERR_INVALID_CONFIGURATION,
			              "sim: VM #%zu of the state file is malformed", i);
			return FALSE;
		}
		if (!g_hash_table_add(ids, (gpointer)id)) {
			sim_set_error(error, PRL_ERR_INVALID_CONFIGURATION,
			              "sim: VM id '%s' appears twice in the state file", id);
			return FALSE;
		}
		json_array_foreach(snaps, j, snap) {
			if (!json_is_object(snap) || !sim_jstr(snap, "name")) {
				sim_set_error(error, PRL_ERR_INVALID_CONFIGURATION,
				              "sim: a snapshot of VM '%s' is malformed", id);
				return FALSE;
			}
		}
	}
	json_object_foreach(tasks, key, task) {
		if (!json_is_object(task) || sim_op_from_name(sim_jstr(task, "op")) == SIM_OP_COUNT_) {
			sim_set_error(error, PRL_ERR_INVALID_CONFIGURATION,
			              "sim: task '%s' of the state file is malformed", key);
			return FALSE;
		}
	}
	return TRUE;
}

json_t *
sim_doc_find_vm(json_t *doc, const char *id, gsize *index)
{
	json_t *vms = json_object_get(doc, "vms");
	json_t *vm;
	gsize i;

	if (!id)
		return NULL;
	json_array_foreach(vms, i, vm) {
		if (g_strcmp0(sim_jstr(vm, "id"), id) == 0) {
			if (index)
				*index = i;
			return vm;
		}
	}
	return NULL;
}

/* ---- folding finished work ---- */

static int
cmp_gint64(gconstpointer a, gconstpointer b)
{
	gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
	return x < y ? -1 : x > y;
}

static void
fold_tasks(json_t *tasks, gint64 now)
{
	const char *key;
	json_t *task;
	void *tmp;
	g_autoptr(GArray) ends = g_array_new(FALSE, FALSE, sizeof(gint64));
	gint64 cutoff = now - SIM_TASK_KEEP_MS;

	json_object_foreach_safe(tasks, tmp, key, task) {
		gint64 t1 = sim_jint(task, "t1");
		if (t1 <= now && t1 < cutoff)
			json_object_del(tasks, key);
		else if (t1 <= now)
			g_array_append_val(ends, t1);
	}
	if (ends->len <= SIM_TASK_KEEP_MAX)
		return;
	/* Too many finished tasks: drop the oldest ones (ties may drop a few more). */
	g_array_sort(ends, cmp_gint64);
	cutoff = g_array_index(ends, gint64, ends->len - SIM_TASK_KEEP_MAX);
	json_object_foreach_safe(tasks, tmp, key, task) {
		gint64 t1 = sim_jint(task, "t1");
		if (t1 <= now && t1 < cutoff)
			json_object_del(tasks, key);
	}
}

void
sim_doc_fold(json_t *doc, gint64 now)
{
	json_t *vms = json_object_get(doc, "vms");
	json_t *tasks = json_object_get(doc, "tasks");
	gsize i = 0;

	while (i < json_array_size(vms)) {
		json_t *vm = json_array_get(vms, i);
		gint64 gone = sim_jint(vm, "gone_at");

		if (gone && gone <= now) {
			json_array_remove(vms, i);
			continue;
		}
		if (json_object_get(vm, "via") && sim_jint(vm, "until") <= now) {
			json_object_del(vm, "via");
			json_object_del(vm, "until");
		}
		if (json_object_get(vm, "busy") && sim_jint(vm, "busy_until") <= now) {
			json_object_del(vm, "busy");
			json_object_del(vm, "busy_until");
			json_object_del(vm, "busy_op");
		}
		if (json_object_get(vm, "src_until") && sim_jint(vm, "src_until") <= now)
			json_object_del(vm, "src_until");
		if (json_object_get(vm, "ip_at") && sim_jint(vm, "ip_at") <= now &&
		    g_strcmp0(sim_jstr(vm, "st"), "running") != 0)
			json_object_del(vm, "ip_at");
		i++;
	}
	if (json_is_object(tasks))
		fold_tasks(tasks, now);
}

/* ---- views ---- */

static void
vm_view_free(gpointer p)
{
	sim_vm_view *v = p;
	pk_vm_data_free(v->data);
	g_free(v->ip4);
	g_free(v->ip6);
	if (v->snapshots)
		g_ptr_array_unref(v->snapshots);
	g_free(v);
}

static void
task_view_free(gpointer p)
{
	sim_task_view *t = p;
	g_free(t->id);
	g_free(t->vm);
	g_free(t->src);
	g_free(t->message);
	g_free(t);
}

sim_view *
sim_view_ref(sim_view *v)
{
	g_atomic_int_inc(&v->refcount);
	return v;
}

void
sim_view_unref(sim_view *v)
{
	if (!v || !g_atomic_int_dec_and_test(&v->refcount))
		return;
	g_hash_table_unref(v->by_id);
	g_hash_table_unref(v->tasks);
	g_ptr_array_unref(v->vms);
	g_free(v);
}

static char *
dup_or_null(const char *s)
{
	return s ? g_strdup(s) : NULL;
}

static sim_vm_view *
vm_view_build(json_t *vm, const char *dir)
{
	sim_vm_view *v = g_new0(sim_vm_view, 1);
	pk_vm_data *d = pk_vm_data_new();
	const char *id = sim_jstr(vm, "id");
	const char *mac = sim_jstr(vm, "mac");
	json_t *snaps = json_object_get(vm, "snaps");
	const char *cur = sim_jstr(vm, "cur");
	json_t *snap;
	gsize i;

	d->id = g_strdup(id);
	d->name = g_strdup(sim_jstr(vm, "name"));
	d->description = g_strdup(sim_jstr(vm, "desc") ? sim_jstr(vm, "desc") : "");
	d->os_type_name = dup_or_null(sim_jstr(vm, "os"));
	d->os_type = (guint32)sim_jint(vm, "ost");
	d->os_version = (guint32)sim_jint(vm, "osv");
	d->ram_mb = (guint32)sim_jint(vm, "ram");
	d->cpus = (guint32)sim_jint(vm, "cpus");
	d->is_template = sim_jbool(vm, "tpl");
	d->digest = g_strdup_printf("%" G_GINT64_FORMAT, sim_jint(vm, "gen"));
	if (mac) {
		pk_net_data *n = g_new0(pk_net_data, 1);
		n->mac = g_strdup(mac);
		n->network = dup_or_null(sim_jstr(vm, "net"));
		g_ptr_array_add(d->nets, n);
		g_ptr_array_add(d->macs, g_strdup(mac));
	}
	if (sim_jint(vm, "disk_mb") > 0) {
		pk_disk_data *disk = g_new0(pk_disk_data, 1);
		disk->image_path = g_build_filename(dir, "vms", id, "harddisk.hdd", NULL);
		disk->size_mb = (guint64)sim_jint(vm, "disk_mb");
		disk->type = PDE_HARD_DISK;
		g_ptr_array_add(d->disks, disk);
	}
	v->data = d;
	if (json_object_get(vm, "ipn")) {
		v->ip4 = sim_ip4_format(sim_jint(vm, "ipn"));
		v->ip6 = sim_ip6_format(sim_jint(vm, "ipn"));
	}
	v->stable = sim_word_intern(sim_jstr(vm, "st"));
	v->via = sim_word_intern(sim_jstr(vm, "via"));
	v->until = sim_jint(vm, "until");
	v->ip_at = sim_jint(vm, "ip_at");
	v->gone_at = sim_jint(vm, "gone_at");
	v->snapshots = g_ptr_array_new_with_free_func((GDestroyNotify)pk_snapshot_data_free);
	json_array_foreach(snaps, i, snap) {
		pk_snapshot_data *s = g_new0(pk_snapshot_data, 1);
		s->name = g_strdup(sim_jstr(snap, "name"));
		s->description = g_strdup(sim_jstr(snap, "desc") ? sim_jstr(snap, "desc") : "");
		s->parent = dup_or_null(sim_jstr(snap, "parent"));
		s->created = sim_jint(snap, "created");
		s->current = cur && strcmp(cur, s->name) == 0;
		g_ptr_array_add(v->snapshots, s);
	}
	return v;
}

static sim_view *
view_build(json_t *doc, const char *dir)
{
	sim_view *view = g_new0(sim_view, 1);
	json_t *vms = json_object_get(doc, "vms");
	json_t *tasks = json_object_get(doc, "tasks");
	json_t *vm, *task;
	const char *key;
	gsize i;

	view->refcount = 1;
	view->vms = g_ptr_array_new_full(json_array_size(vms), vm_view_free);
	view->by_id = g_hash_table_new(g_str_hash, g_str_equal);
	view->tasks = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, task_view_free);
	json_array_foreach(vms, i, vm) {
		sim_vm_view *v = vm_view_build(vm, dir);
		g_ptr_array_add(view->vms, v);
		g_hash_table_insert(view->by_id, v->data->id, v);
		if (v->stable && strcmp(v->stable, "running") == 0) {
			view->running_count++;
			view->running_ram_mb += v->data->ram_mb;
		}
	}
	json_object_foreach(tasks, key, task) {
		sim_task_view *t = g_new0(sim_task_view, 1);
		t->id = g_strdup(key);
		t->op = sim_op_from_name(sim_jstr(task, "op"));
		t->vm = dup_or_null(sim_jstr(task, "vm"));
		t->src = dup_or_null(sim_jstr(task, "src"));
		t->t0 = sim_jint(task, "t0");
		t->t1 = sim_jint(task, "t1");
		t->code = (PRL_RESULT)sim_jint(task, "code");
		t->message = dup_or_null(sim_jstr(task, "msg"));
		g_hash_table_insert(view->tasks, t->id, t);
	}
	return view;
}

/* ---- loading ---- */

static json_t *
load_file(sim_store *st, sim_file_id *id, GError **error)
{
	int fd;
	struct stat sb;
	g_autofree char *buf = NULL;
	gsize done = 0;
	json_t *doc;
	json_error_t jerr;

	fd = open(st->state_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		set_errno_error(error, errno, "open the state file", st->state_path);
		return NULL;
	}
	if (fstat(fd, &sb) < 0) {
		set_errno_error(error, errno, "stat the state file", st->state_path);
		close(fd);
		return NULL;
	}
	buf = g_malloc(sb.st_size + 1);
	while (done < (gsize)sb.st_size) {
		ssize_t n = read(fd, buf + done, sb.st_size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			set_errno_error(error, errno, "read the state file", st->state_path);
			close(fd);
			return NULL;
		}
		if (n == 0)
			break;  /* cannot happen with rename-replace; fail on parse below */
		done += n;
	}
	close(fd);
	file_id_from_stat(&sb, id);
	doc = json_loadb(buf, done, 0, &jerr);
	if (!doc) {
		sim_set_error(error, PRL_ERR_INVALID_CONFIGURATION,
		              "sim: the state file '%s' is not valid JSON (line %d: %s)",
		              st->state_path, jerr.line, jerr.text);
		return NULL;
	}
	if (!sim_doc_validate(doc, error)) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

/* Install doc (owned) as the cache for identity id; keeps a view of the same identity. */
static void
store_install_locked(sim_store *st, json_t *doc, const sim_file_id *id)
{
	gboolean same = st->have_id && sim_file_id_equal(&st->id, id);

	if (!same && st->view)
		g_clear_pointer(&st->view, sim_view_unref);
	if (st->doc && st->doc != doc)
		json_decref(st->doc);
	st->doc = doc;
	st->id = *id;
	st->have_id = TRUE;
}

sim_view *
sim_store_view(sim_store *st, GError **error)
{
	struct stat sb;
	sim_file_id id;
	sim_view *view;

	if (stat(st->state_path, &sb) < 0) {
		set_errno_error(error, errno, "stat the state file", st->state_path);
		return NULL;
	}
	file_id_from_stat(&sb, &id);

	g_mutex_lock(&st->lock);
	if (!(st->have_id && sim_file_id_equal(&st->id, &id) && (st->view || st->doc))) {
		sim_file_id loaded;
		json_t *doc = load_file(st, &loaded, error);
		if (!doc) {
			g_mutex_unlock(&st->lock);
			return NULL;
		}
		store_install_locked(st, doc, &loaded);
	}
	if (!st->view)
		st->view = view_build(st->doc, st->dir);
	view = sim_view_ref(st->view);
	g_mutex_unlock(&st->lock);
	return view;
}

/* ---- writing ---- */

static gboolean
write_all(int fd, const char *buf, gsize len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return FALSE;
		buf += n;
		len -= n;
	}
	return TRUE;
}

/* Write doc as the new state file; *id gets its identity. prev: identity of the file being
 * replaced (NULL if none) so the new one's mtime can be forced above it. */
static gboolean
write_doc(sim_store *st, json_t *doc, const sim_file_id *prev, sim_file_id *id,
          GError **error)
{
	g_autofree char *text = json_dumps(doc, JSON_COMPACT);
	gboolean do_sync = g_atomic_int_get(&st->fsync);
	struct stat sb;
	int fd;

	if (!text) {
		sim_set_error(error, PRL_ERR_OUT_OF_MEMORY, "sim: cannot serialize the state");
		return FALSE;
	}
	fd = open(st->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return set_errno_error(error, errno, "create", st->tmp_path);
	if (!write_all(fd, text, strlen(text)) || !write_all(fd, "\n", 1) ||
	    (do_sync && fdatasync(fd) < 0) || fstat(fd, &sb) < 0)
		goto fail;
	if (prev) {
		gint64 mt = (gint64)sb.st_mtim.tv_sec * G_GINT64_CONSTANT(1000000000) +
		            sb.st_mtim.tv_nsec;
		if (mt <= prev->mtime_ns) {
			struct timespec ts[2];
			gint64 want = prev->mtime_ns + 1;
			ts[0].tv_sec = 0;
			ts[0].tv_nsec = UTIME_OMIT;
			ts[1].tv_sec = want / G_GINT64_CONSTANT(1000000000);
			ts[1].tv_nsec = want % G_GINT64_CONSTANT(1000000000);
			if (futimens(fd, ts) < 0 || fstat(fd, &sb) < 0)
				goto fail;
		}
	}
	file_id_from_stat(&sb, id);
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(st->tmp_path, st->state_path) < 0)
		goto fail;
	if (do_sync) {
		int dfd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			(void)fsync(dfd);
			close(dfd);
		}
	}
	return TRUE;

fail:
	{
		int err = errno;
		if (fd >= 0)
			close(fd);
		unlink(st->tmp_path);
		return set_errno_error(error, err, "write", st->state_path);
	}
}

static int
lock_acquire(sim_store *st, GError **error)
{
	int fd = open(st->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0) {
		set_errno_error(error, errno, "open the lock file", st->lock_path);
		return -1;
	}
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			set_errno_error(error, errno, "lock", st->lock_path);
			close(fd);
			return -1;
		}
	}
	return fd;
}

gboolean
sim_store_update(sim_store *st, sim_update_fn fn, gpointer user_data, GError **error)
{
	int lfd;
	struct stat sb;
	sim_file_id cur = { 0 }, written;
	gboolean exists;
	json_t *doc = NULL;
	sim_update_result r;
	gint64 now;

	lfd = lock_acquire(st, error);
	if (lfd < 0)
		return FALSE;

	exists = stat(st->state_path, &sb) == 0;
	if (exists) {
		file_id_from_stat(&sb, &cur);
		/* Take the cached document if it is this very file: no re-parse. */
		g_mutex_lock(&st->lock);
		if (st->doc && st->have_id && sim_file_id_equal(&st->id, &cur)) {
			doc = st->doc;
			st->doc = NULL;
		}
		g_mutex_unlock(&st->lock);
		if (!doc) {
			doc = load_file(st, &cur, error);
			if (!doc) {
				close(lfd);
				return FALSE;
			}
		}
	} else if (errno != ENOENT) {
		set_errno_error(error, errno, "stat the state file", st->state_path);
		close(lfd);
		return FALSE;
	}

	now = pk_time_wall_ms();
	if (doc)
		sim_doc_fold(doc, now);
	r = fn(&doc, now, user_data, error);

	if (r == SIM_UPDATE_WRITE && doc) {
		if (write_doc(st, doc, exists ? &cur : NULL, &written, error)) {
			cur = written;
			exists = TRUE;
		} else {
			r = SIM_UPDATE_ERROR;
			exists = FALSE;  /* doc now differs from the file: do not cache it */
		}
	}

	g_mutex_lock(&st->lock);
	if (doc && exists && !(r == SIM_UPDATE_ERROR && st->doc))
		store_install_locked(st, doc, &cur);
	else if (doc)
		json_decref(doc);
	g_mutex_unlock(&st->lock);

	close(lfd);
	return r != SIM_UPDATE_ERROR;
}
