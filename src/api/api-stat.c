/* PrlStat_*, PrlStatCpu_*: host and VM statistics (PHT_SYSTEM_STATISTICS). */
#include "config.h"

#include "api-async.h"
#include "core-info.h"

#define PK_STAT_FIELD(hStat, field, out)                    \
	do {                                                    \
		if ((out) == NULL)                                  \
			return PRL_ERR_INVALID_ARG;                     \
		PK_AUTO pk_statistics *st = NULL;                   \
		PK_SYNC_GET(hStat, PHT_SYSTEM_STATISTICS, st);      \
		*(out) = st->field;                                 \
		return PRL_ERR_SUCCESS;                             \
	} while (0)

/* Bytes. */
PRL_METHOD(PrlStat_GetTotalRamSize)(PRL_HANDLE hStat, PRL_UINT64_PTR pnSize)
{
	PK_STAT_FIELD(hStat, ram_total, pnSize);
}

PRL_METHOD(PrlStat_GetUsageRamSize)(PRL_HANDLE hStat, PRL_UINT64_PTR pnSize)
{
	PK_STAT_FIELD(hStat, ram_used, pnSize);
}

PRL_METHOD(PrlStat_GetFreeRamSize)(PRL_HANDLE hStat, PRL_UINT64_PTR pnSize)
{
	PK_STAT_FIELD(hStat, ram_free, pnSize);
}

PRL_METHOD(PrlStat_GetCpusStatsCount)(PRL_HANDLE hStat, PRL_UINT32_PTR pnCount)
{
	PK_STAT_FIELD(hStat, cpu_usage->len, pnCount);
}

PRL_METHOD(PrlStat_GetCpuStat)(PRL_HANDLE hStat, PRL_UINT32 nIndex, PRL_HANDLE_PTR phCpuStat)
{
	if (phCpuStat == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_statistics *st = NULL;
	PK_SYNC_GET(hStat, PHT_SYSTEM_STATISTICS, st);
	if (nIndex >= st->cpu_usage->len)
		return PRL_ERR_INVALID_ARG;
	*phCpuStat = pk_object_give(pk_cpu_stat_new(g_array_index(st->cpu_usage, guint32, nIndex)));
	return PRL_ERR_SUCCESS;
}

/* Percent. */
PRL_METHOD(PrlStatCpu_GetCpuUsage)(PRL_HANDLE hCpuStat, PRL_UINT32_PTR pnPercents)
{
	if (pnPercents == NULL)
		return PRL_ERR_INVALID_ARG;
	PK_AUTO pk_cpu_stat *cpu = NULL;
	PK_SYNC_GET(hCpuStat, PHT_SYSTEM_STATISTICS_CPU, cpu);
	*pnPercents = cpu->usage;
	return PRL_ERR_SUCCESS;
}
