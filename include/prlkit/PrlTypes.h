/* prlkit — basic types of the Parallels Virtualization SDK C API. MIT license. */
#ifndef PRLKIT_PRLTYPES_H
#define PRLKIT_PRLTYPES_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
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

typedef uint8_t  PRL_UINT8;   typedef PRL_UINT8  *PRL_UINT8_PTR;
typedef int8_t   PRL_INT8;    typedef PRL_INT8   *PRL_INT8_PTR;
typedef uint16_t PRL_UINT16;  typedef PRL_UINT16 *PRL_UINT16_PTR;
typedef int16_t  PRL_INT16;   typedef PRL_INT16  *PRL_INT16_PTR;
typedef uint32_t PRL_UINT32;  typedef PRL_UINT32 *PRL_UINT32_PTR;
typedef int32_t  PRL_INT32;   typedef PRL_INT32  *PRL_INT32_PTR;
typedef uint64_t PRL_UINT64;  typedef PRL_UINT64 *PRL_UINT64_PTR;
typedef int64_t  PRL_INT64;   typedef PRL_INT64  *PRL_INT64_PTR;
typedef unsigned int PRL_SIZE; typedef PRL_SIZE *PRL_SIZE_PTR;
typedef char PRL_CHAR;        typedef PRL_CHAR *PRL_CHAR_PTR;
typedef char *PRL_STR;        typedef PRL_STR *PRL_STR_PTR;
typedef const char *PRL_CONST_STR; typedef PRL_CONST_STR *PRL_CONST_STR_PTR;
typedef void *PRL_VOID_PTR;   typedef PRL_VOID_PTR *PRL_VOID_PTR_PTR;
typedef const void *PRL_CONST_VOID_PTR;
typedef double PRL_DOUBLE;    typedef PRL_DOUBLE *PRL_DOUBLE_PTR;
typedef float PRL_FLOAT;      typedef PRL_FLOAT *PRL_FLOAT_PTR;
typedef uint32_t PRL_BOOL;    typedef PRL_BOOL *PRL_BOOL_PTR;

#define PRL_TRUE  1
#define PRL_FALSE 0

/* An opaque id looked up in the library's handle table; never dereferenced. */
typedef int *PRL_HANDLE;
typedef PRL_HANDLE *PRL_HANDLE_PTR;
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
