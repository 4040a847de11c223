/* The sim state directory: loading, caching and crash-safe writing of the one JSON
 * document (its in-memory form and the JSON conversion are in sim-model.c).
 *
 * Crash safety: a writer serializes the whole document into <dir>/state.json.tmp and
 * renames it over state.json, so a reader (or a process killed at any instant) only ever
 * sees a complete old or new document. Writers hold an exclusive flock on <dir>/lock for
 * the whole read-modify-write, on a descriptor of their own, so writers in other processes
 * and in other threads of this one never lose each other's updates.
 *
 * Cache: per process and directory, the parsed document (an immutable model that readers
 * share by reference) is kept while stat(state.json) gives the same (dev, inode, size,
 * mtime); a writer starts from it without re-reading the file and installs what it wrote.
 * Writers make that identity change on every generation: a new file (new inode while the
 * old still exists) whose mtime is forced strictly above the previous one, so even a
 * reused inode with the same size within one timestamp tick cannot look unchanged. */
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
	GMutex lock;            /* protects model, id, and the index of model */
	sim_model *model;       /* lock: the document as published, or NULL */
	sim_file_id id;         /* lock: identity of the file model came from */
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

	if (st->model)
		sim_model_unref(st->model);
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

/* ---- loading ---- */

static sim_model *
load_file(sim_store *st, sim_file_id *id, GError **error)
{
	int fd;
	struct stat sb;
	g_autofree char *buf = NULL;
	gsize done = 0;

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
	return sim_model_from_json(buf, done, st->state_path, error);
}

/* Install m (a new reference is taken) as the cache for identity id. */
static void
store_install_locked(sim_store *st, sim_model *m, const sim_file_id *id)
{
	if (st->model != m) {
		if (st->model)
			sim_model_unref(st->model);
		st->model = sim_model_ref(m);
	}
	st->id = *id;
}

sim_model *
sim_store_view(sim_store *st, GError **error)
{
	struct stat sb;
	sim_file_id id;
	sim_model *m;

	if (stat(st->state_path, &sb) < 0) {
		set_errno_error(error, errno, "stat the state file", st->state_path);
		return NULL;
	}
	file_id_from_stat(&sb, &id);

	g_mutex_lock(&st->lock);
	if (!(st->model && sim_file_id_equal(&st->id, &id))) {
		sim_file_id loaded;
		g_autoptr(sim_model) fresh = load_file(st, &loaded, error);
		if (!fresh) {
			g_mutex_unlock(&st->lock);
			return NULL;
		}
		store_install_locked(st, fresh, &loaded);
	}
	sim_model_index(st->model);
	m = sim_model_ref(st->model);
	g_mutex_unlock(&st->lock);
	return m;
}

/* ---- writing ---- */

/* Write m as the new state file; *id gets its identity. prev: identity of the file being
 * replaced (NULL if none) so the new one's mtime can be forced above it. */
static gboolean
write_model(sim_store *st, const sim_model *m, const sim_file_id *prev, sim_file_id *id,
            GError **error)
{
	gboolean do_sync = g_atomic_int_get(&st->fsync);
	struct stat sb;
	int fd;

	fd = open(st->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return set_errno_error(error, errno, "create", st->tmp_path);
	if (!sim_model_write(m, fd) || (do_sync && fdatasync(fd) < 0) || fstat(fd, &sb) < 0)
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
	g_autoptr(sim_model) base = NULL;
	g_autoptr(sim_model) draft = NULL;
	sim_update_result r;
	gint64 now;

	lfd = lock_acquire(st, error);
	if (lfd < 0)
		return FALSE;

	exists = stat(st->state_path, &sb) == 0;
	if (exists) {
		file_id_from_stat(&sb, &cur);
		/* Start from the cached model if it is this very file: no re-parse. */
		g_mutex_lock(&st->lock);
		if (st->model && sim_file_id_equal(&st->id, &cur))
			base = sim_model_ref(st->model);
		g_mutex_unlock(&st->lock);
		if (!base) {
			base = load_file(st, &cur, error);
			if (!base) {
				close(lfd);
				return FALSE;
			}
		}
		draft = sim_model_draft(base);
	} else if (errno != ENOENT) {
		set_errno_error(error, errno, "stat the state file", st->state_path);
		close(lfd);
		return FALSE;
	}

	now = pk_time_wall_ms();
	if (draft)
		sim_model_fold(draft, now);
	r = fn(&draft, now, user_data, error);

	if (r == SIM_UPDATE_WRITE && draft) {
		if (write_model(st, draft, exists ? &cur : NULL, &written, error)) {
			g_mutex_lock(&st->lock);
			store_install_locked(st, draft, &written);
			g_mutex_unlock(&st->lock);
		} else {
			r = SIM_UPDATE_ERROR;
		}
	} else if (base) {
		/* Nothing written: the file is still what base came from. */
		g_mutex_lock(&st->lock);
		store_install_locked(st, base, &cur);
		g_mutex_unlock(&st->lock);
	}

	close(lfd);
	return r != SIM_UPDATE_ERROR;
}
