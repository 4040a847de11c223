/* Plain driver data (driver.h): copies, frees, and the MAC / IP normalizers. Also the
 * fakeable clock and the cancellable sleep (util-time). */
#include "config.h"

#include "driver.h"
#include "util-time.h"

static void test_mac(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "bc:24:11:aa:bb:cc", "BC:24:11:AA:BB:CC" },
		{ " BC-24-11-AA-BB-CC ", "BC:24:11:AA:BB:CC" },
		{ "0:1a:2b:3c:4d:5e", "00:1A:2B:3C:4D:5E" },
		{ "bc24.11aa.bbcc", "BC:24:11:AA:BB:CC" },
		{ "bc2411aabbcc", "BC:24:11:AA:BB:CC" },
		{ "", NULL },
		{ "bc:24:11:aa:bb", NULL },
		{ "bc:24:11:aa:bb:cc:dd", NULL },
		{ "bc:24:11:aa:bb:cg", NULL },
		{ "bc:24-11:aa:bb:cc", NULL },
		{ "bc:245:11:aa:bb:cc", NULL },
		{ "bc2411aabbc", NULL },
		{ "bc24.11aa.bbcz", NULL },
		{ "not a mac", NULL },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *r = pk_mac_normalize(cases[i].in);
		g_assert_cmpstr(r, ==, cases[i].out);
	}
	g_assert_null(pk_mac_normalize(NULL));
}

static void test_ips(void)
{
	g_autoptr(GPtrArray) ips = g_ptr_array_new_with_free_func(g_free);
	const char *in[] = {
		"fd00::10", "127.0.0.1", "10.0.0.5", "fe80::1%eth0", "::1", "192.168.1.7/24",
		"10.0.0.5", "FD00::10", "169.254.3.3", "garbage", "", "0.0.0.0", "2001:db8::1",
		"224.0.0.1", " 172.16.0.1 ",
	};
	for (gsize i = 0; i < G_N_ELEMENTS(in); i++)
		g_ptr_array_add(ips, g_strdup(in[i]));
	pk_ips_normalize(ips);
	const char *out[] = { "10.0.0.5", "192.168.1.7", "172.16.0.1", "fd00::10", "2001:db8::1" };
	g_assert_cmpuint(ips->len, ==, G_N_ELEMENTS(out));
	for (gsize i = 0; i < G_N_ELEMENTS(out); i++)
		g_assert_cmpstr(g_ptr_array_index(ips, i), ==, out[i]);
	pk_ips_normalize(NULL);
}

static void test_vm_data(void)
{
	g_autoptr(pk_vm_data) d = pk_vm_data_new();
	g_assert_nonnull(d->ips);
	g_assert_nonnull(d->macs);
	g_assert_nonnull(d->disks);
	g_assert_nonnull(d->nets);
	d->id = g_strdup("101");
	d->name = g_strdup("web");
	d->ram_mb = 2048;
	d->cpus = 2;
	d->state = VMS_RUNNING;
	g_ptr_array_add(d->ips, g_strdup("10.0.0.5"));
	g_ptr_array_add(d->macs, g_strdup("BC:24:11:AA:BB:CC"));
	pk_disk_data *disk = g_new0(pk_disk_data, 1);
	disk->image_path = g_strdup("local:vm-101-disk-0");
	disk->size_mb = 32768;
	disk->type = PDE_HARD_DISK;
	g_ptr_array_add(d->disks, disk);
	pk_net_data *net = g_new0(pk_net_data, 1);
	net->mac = g_strdup("BC:24:11:AA:BB:CC");
	net->network = g_strdup("vmbr0");
	g_ptr_array_add(d->nets, net);

	g_autoptr(pk_vm_data) c = pk_vm_data_copy(d);
	g_assert_cmpstr(c->id, ==, "101");
	g_assert_cmpstr(c->name, ==, "web");
	g_assert_null(c->description);
	g_assert_cmpuint(c->ram_mb, ==, 2048);
	g_assert_cmpint(c->state, ==, VMS_RUNNING);
	g_assert_cmpuint(c->ips->len, ==, 1);
	g_assert_true(g_ptr_array_index(c->ips, 0) != g_ptr_array_index(d->ips, 0));
	pk_disk_data *cd = g_ptr_array_index(c->disks, 0);
	g_assert_true(cd != disk);
	g_assert_cmpstr(cd->image_path, ==, "local:vm-101-disk-0");
	g_assert_cmpuint(cd->size_mb, ==, 32768);
	pk_net_data *cn = g_ptr_array_index(c->nets, 0);
	g_assert_cmpstr(cn->network, ==, "vmbr0");
	g_assert_null(pk_vm_data_copy(NULL));
	pk_vm_data_free(NULL);
}

static void test_other_data(void)
{
	pk_snapshot_data *s = g_new0(pk_snapshot_data, 1);
	s->name = g_strdup("v1");
	s->parent = g_strdup("v0");
	pk_snapshot_data_free(s);
	pk_snapshot_data_free(NULL);

	pk_task_status st = { TRUE, PRL_ERR_TIMEOUT, g_strdup("slow"), 50, g_strdup("102") };
	pk_task_status_clear(&st);
	g_assert_false(st.finished);
	g_assert_null(st.message);
	g_assert_null(st.result_vm_id);
	pk_task_status_clear(NULL);

	pk_host_data *h = g_new0(pk_host_data, 1);
	h->hostname = g_strdup("pve1");
	pk_host_data_free(h);
	pk_host_data_free(NULL);

	pk_stats_data *sd = g_new0(pk_stats_data, 1);
	sd->cpu_usage = g_array_new(FALSE, FALSE, sizeof(guint32));
	guint32 u = 12;
	g_array_append_val(sd->cpu_usage, u);
	pk_stats_data_free(sd);
	pk_stats_data_free(NULL);
}

static void test_clock(void)
{
	g_unsetenv("PRLKIT_FAKE_TIME_OFFSET_MS");
	gint64 real = g_get_real_time() / 1000;
	gint64 now = pk_time_wall_ms();
	g_assert_cmpint(now, >=, real);

	/* A day ahead: far beyond any scheduling delay between the two reads. */
	g_setenv("PRLKIT_FAKE_TIME_OFFSET_MS", "86400000", TRUE);
	g_assert_cmpint(pk_time_wall_ms(), >=, real + 86400000);
	g_setenv("PRLKIT_FAKE_TIME_OFFSET_MS", "-86400000", TRUE);
	g_assert_cmpint(pk_time_wall_ms(), <, real);
	g_setenv("PRLKIT_FAKE_TIME_OFFSET_MS", "garbage", TRUE);
	g_assert_cmpint(pk_time_wall_ms(), >=, real);
	g_unsetenv("PRLKIT_FAKE_TIME_OFFSET_MS");

	gint64 a = pk_time_mono_us();
	gint64 b = pk_time_mono_us();
	g_assert_cmpint(b, >=, a);
}

static gpointer cancel_soon(gpointer data)
{
	g_usleep(20000);
	g_cancellable_cancel(data);
	return NULL;
}

static void test_sleep(void)
{
	g_assert_true(pk_time_sleep_ms(1, NULL));
	g_autoptr(GCancellable) c = g_cancellable_new();
	g_assert_true(pk_time_sleep_ms(1, c));
	g_assert_true(pk_time_sleep_ms(0, c));

	/* Cancelled from another thread: wakes up long before the hour is over. */
	GThread *t = g_thread_new("cancel", cancel_soon, c);
	g_assert_false(pk_time_sleep_ms(3600 * 1000, c));
	g_thread_join(t);
	/* Already cancelled. */
	g_assert_false(pk_time_sleep_ms(3600 * 1000, c));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/data/mac", test_mac);
	g_test_add_func("/data/ips", test_ips);
	g_test_add_func("/data/vm-data", test_vm_data);
	g_test_add_func("/data/other", test_other_data);
	g_test_add_func("/time/clock", test_clock);
	g_test_add_func("/time/sleep", test_sleep);
	return g_test_run();
}
