/* prlkit — umbrella header with the Parallels Virtualization SDK's name. MIT license. */
#ifndef PRLKIT_PARALLELS_H
#define PRLKIT_PARALLELS_H

#include "PrlTypes.h"
#include "PrlErrors.h"
#include "PrlEnums.h"
#include "PrlOses.h"
#include "PrlApi.h"
#include "PrlApiCore.h"
#include "PrlApiDisp.h"
#include "PrlApiVm.h"
#include "PrlApiStat.h"
#include "PrlApiExt.h"

#endif
