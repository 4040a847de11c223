/* prlkit — result codes (see PrlErrorsValues.h). MIT license. */
#ifndef PRLKIT_PRLERRORS_H
#define PRLKIT_PRLERRORS_H
#include "PrlTypes.h"
#include "PrlErrorsValues.h"
#endif
