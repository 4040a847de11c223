/* Helpers for the Proxmox VE tests: start/stop tests/fakes/pve/fake-pve.py, talk to its
 * control endpoints, open pve connections through the vtable, wait for tasks. */
#ifndef PRLKIT_TEST_PVE_FAKE_H
#define PRLKIT_TEST_PVE_FAKE_H

#include "pve-private.h"

G_BEGIN_DECLS

extern const pk_driver pve_driver;

typedef struct tp_fake {
	GPid pid;
	char *dir;                    /* certificates and the ready file */
	char *host;                   /* "127.0.0.1:PORT" */
	int port;
	char *ca_file;
	char *cert_file;
	char *fingerprint;            /* "AB:CD:..." of the server certificate */
	char *token_id;               /* root@pam!automation */
	char *token_name;             /* automation */
	char *token_secret;
	char *user;
	char *password;
	pk_http *admin;               /* pinned to the fake's certificate */
} tp_fake;

/* Timeouts in tests are multiplied by this: 5 under valgrind (detected from LD_PRELOAD),
 * else 1. They bound hangs; they are never assertions about speed. */
guint tp_scale(void);

/* TRUE when python3 and openssl are available (else the caller skips). */
gboolean tp_fake_available(void);
/* Start a fake with these extra command-line arguments (NULL-terminated). Fast defaults:
 * no 401 delay, 10 ms tasks. Fails the test when it does not come up. */
tp_fake *tp_fake_start(const char *first_arg, ...) G_GNUC_NULL_TERMINATED;
void tp_fake_stop(tp_fake *f);

/* Control endpoints. body: JSON text or NULL. Returns "data" (new reference). */
json_t *tp_admin(tp_fake *f, const char *method, const char *path, const char *body);
void tp_admin_printf(tp_fake *f, const char *method, const char *path, const char *fmt, ...)
	G_GNUC_PRINTF(4, 5);
gint64 tp_counter(tp_fake *f, const char *key);   /* "GET /cluster/resources", "_total" */
void tp_counters_reset(tp_fake *f);
void tp_fault(tp_fake *f, const char *rule_json);
void tp_faults_clear(tp_fake *f);
/* A guest's fake-side record (new reference). */
json_t *tp_vm(tp_fake *f, guint vmid);

/* Settings JSON for this fake: host, tls_fingerprint, API token, fast polling; extra:
 * more members ("\"template_mode\":\"native\"") or NULL. */
char *tp_settings(tp_fake *f, const char *extra);
/* Same with user + password (tickets) instead of the token. */
char *tp_settings_ticket(tp_fake *f, const char *extra);

pk_conn *tp_open_full(const char *uri, const char *settings_json, pk_open_status *status,
                      GError **error);
pk_conn *tp_open(tp_fake *f, const char *extra);
void tp_close(pk_conn *c);

/* Poll a task reference to its end; returns its code. message/result_vm optional. */
PRL_RESULT tp_task_wait(pk_conn *c, const char *ref, char **message, char **result_vm);
pk_vm_data *tp_get(pk_conn *c, const char *id);
/* Find the VM named name through list; NULL when absent. */
char *tp_find(pk_conn *c, const char *name);

G_END_DECLS
#endif
