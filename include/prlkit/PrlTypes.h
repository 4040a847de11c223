/* prlkit — basic types of the Parallels Virtualization SDK C API. MIT license. */
#ifndef PRLKIT_PRLTYPES_H
#define PRLKIT_PRLTYPES_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The SDK's platform macros, guessed as its headers do when the build sets none:
 * programs choose their includes with #ifdef _WIN_ / _LIN_ / _MAC_. */
#if !defined(_WIN_) && !defined(_LIN_) && !defined(_MAC_)
#if defined(_MSC_VER)
#define _WIN_
#elif defined(__GNUC__) && defined(__APPLE__)
#define _MAC_
#else
#define _LIN_
#endif
#endif

#ifndef PRL_CALL
#define PRL_CALL
#endif
#ifndef PRL_API_EXPORT
#define PRL_API_EXPORT __attribute__((visibility("default")))
#endif
#define PRL_METHOD(name) PRL_API_EXPORT PRL_RESULT PRL_CALL name
#define PRL_ASYNC_METHOD(name) PRL_API_EXPORT PRL_HANDLE PRL_CALL name
#define PRL_METHOD_DECL(ver, name, args) PRL_METHOD(name) args
#define PRL_ASYNC_METHOD_DECL(ver, name, args) PRL_ASYNC_METHOD(name) args

/* The 64-bit types are (unsigned) long long as in the SDK, so the %llu/%lld that SDK
 * programs print them with match on every platform. */
typedef uint8_t  PRL_UINT8;   typedef PRL_UINT8  *PRL_UINT8_PTR;
typedef int8_t   PRL_INT8;    typedef PRL_INT8   *PRL_INT8_PTR;
typedef uint16_t PRL_UINT16;  typedef PRL_UINT16 *PRL_UINT16_PTR;
typedef int16_t  PRL_INT16;   typedef PRL_INT16  *PRL_INT16_PTR;
typedef uint32_t PRL_UINT32;  typedef PRL_UINT32 *PRL_UINT32_PTR;
typedef int32_t  PRL_INT32;   typedef PRL_INT32  *PRL_INT32_PTR;
typedef unsigned long long PRL_UINT64; typedef PRL_UINT64 *PRL_UINT64_PTR;
typedef long long PRL_INT64;  typedef PRL_INT64  *PRL_INT64_PTR;
typedef unsigned int PRL_SIZE; typedef PRL_SIZE *PRL_SIZE_PTR;
typedef char PRL_CHAR;        typedef PRL_CHAR *PRL_CHAR_PTR;
typedef char *PRL_STR;        typedef PRL_STR *PRL_STR_PTR;
typedef const char *PRL_CONST_STR; typedef PRL_CONST_STR *PRL_CONST_STR_PTR;
typedef void PRL_VOID;
typedef void *PRL_VOID_PTR;   typedef PRL_VOID_PTR *PRL_VOID_PTR_PTR;
typedef const void *PRL_CONST_VOID_PTR;
typedef double PRL_DOUBLE;    typedef PRL_DOUBLE *PRL_DOUBLE_PTR;
typedef float PRL_FLOAT;      typedef PRL_FLOAT *PRL_FLOAT_PTR;
typedef uint32_t PRL_BOOL;    typedef PRL_BOOL *PRL_BOOL_PTR;

/* The SDK's pointer-to-pointer and const variants. */
typedef PRL_UINT8 **PRL_UINT8_PTR_PTR;   typedef const PRL_UINT8 *PRL_CONST_UINT8_PTR;
typedef PRL_INT8 **PRL_INT8_PTR_PTR;     typedef const PRL_INT8 *PRL_CONST_INT8_PTR;
typedef PRL_UINT16 **PRL_UINT16_PTR_PTR; typedef const PRL_UINT16 *PRL_CONST_UINT16_PTR;
typedef PRL_INT16 **PRL_INT16_PTR_PTR;   typedef const PRL_INT16 *PRL_CONST_INT16_PTR;
typedef PRL_UINT32 **PRL_UINT32_PTR_PTR; typedef const PRL_UINT32 *PRL_CONST_UINT32_PTR;
typedef PRL_INT32 **PRL_INT32_PTR_PTR;   typedef const PRL_INT32 *PRL_CONST_INT32_PTR;
typedef PRL_UINT64 **PRL_UINT64_PTR_PTR; typedef const PRL_UINT64 *PRL_CONST_UINT64_PTR;
typedef PRL_INT64 **PRL_INT64_PTR_PTR;   typedef const PRL_INT64 *PRL_CONST_INT64_PTR;
typedef PRL_SIZE_PTR *PRL_SIZE_PTR_PTR;  typedef const PRL_SIZE *PRL_CONST_SIZE_PTR;
typedef PRL_DOUBLE_PTR *PRL_DOUBLE_PTR_PTR; typedef const PRL_DOUBLE *PRL_CONST_DOUBLE_PTR;
typedef const PRL_BOOL *PRL_CONST_BOOL_PTR;

#define PRL_TRUE  1
#define PRL_FALSE 0
#define PRL_NULL ((PRL_VOID_PTR)0)

/* What SDK programs write to keep the compiler quiet about unused things. */
#define PRL_UNUSED __attribute__((unused))
#define PRL_UNUSED_PARAM(x) (void)(x)

/* An opaque id looked up in the library's handle table; never dereferenced. */
typedef int *PRL_HANDLE;
typedef PRL_HANDLE *PRL_HANDLE_PTR;
typedef const PRL_HANDLE *PRL_CONST_HANDLE_PTR;
#define PRL_INVALID_HANDLE ((PRL_HANDLE)0)

typedef int PRL_RESULT;
typedef PRL_RESULT *PRL_RESULT_PTR;

#define PRL_SUCCEEDED(r) ((PRL_RESULT)(r) >= 0)
#define PRL_FAILED(r)    ((PRL_RESULT)(r) < 0)

typedef PRL_RESULT (PRL_CALL *PRL_EVENT_HANDLER_PTR)(PRL_HANDLE hEvent, PRL_VOID_PTR data);

#ifdef __cplusplus
}
#endif
#endif
