/* prlkit — umbrella header with the Virtuozzo SDK's name; same as Parallels.h. */
#ifndef PRLKIT_VIRTUOZZO_H
#define PRLKIT_VIRTUOZZO_H
#include "Parallels.h"
#endif
