/* prlkit — statistics. MIT license. */
#ifndef PRLKIT_PRLAPISTAT_H
#define PRLKIT_PRLAPISTAT_H

#include "PrlApiCore.h"

#ifdef __cplusplus
extern "C" {
#endif

PRL_METHOD(PrlStat_GetTotalRamSize)(PRL_HANDLE hStat, PRL_UINT64_PTR pnSize);
PRL_METHOD(PrlStat_GetUsageRamSize)(PRL_HANDLE hStat, PRL_UINT64_PTR pnSize);
PRL_METHOD(PrlStat_GetFreeRamSize)(PRL_HANDLE hStat, PRL_UINT64_PTR pnSize);
PRL_METHOD(PrlStat_GetCpusStatsCount)(PRL_HANDLE hStat, PRL_UINT32_PTR pnCount);
PRL_METHOD(PrlStat_GetCpuStat)(PRL_HANDLE hStat, PRL_UINT32 nIndex, PRL_HANDLE_PTR phCpuStat);
PRL_METHOD(PrlStatCpu_GetCpuUsage)(PRL_HANDLE hCpuStat, PRL_UINT32_PTR pnPercents);

#ifdef __cplusplus
}
#endif
#endif
