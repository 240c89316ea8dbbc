#ifndef LRT_CMPI_SHIM_H
#define LRT_CMPI_SHIM_H
// The MPI C API (Open MPI 4.1, Debian's libopenmpi-dev). Its handles (communicators, datatypes,
// operations, error handlers) and MPI_IN_PLACE are macros that expand to addresses of library
// globals: Swift cannot import them, so each one is wrapped in a static inline function here.
#include <mpi.h>

static inline MPI_Comm lrt_MPI_COMM_WORLD(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype lrt_MPI_FLOAT(void) { return MPI_FLOAT; }
static inline MPI_Datatype lrt_MPI_DOUBLE(void) { return MPI_DOUBLE; }
static inline MPI_Datatype lrt_MPI_BYTE(void) { return MPI_BYTE; }
static inline MPI_Datatype lrt_MPI_UINT64_T(void) { return MPI_UINT64_T; }
static inline MPI_Op lrt_MPI_SUM(void) { return MPI_SUM; }
static inline MPI_Op lrt_MPI_MAX(void) { return MPI_MAX; }
static inline MPI_Op lrt_MPI_MIN(void) { return MPI_MIN; }
static inline MPI_Errhandler lrt_MPI_ERRORS_RETURN(void) { return MPI_ERRORS_RETURN; }
static inline void *lrt_MPI_IN_PLACE(void) { return MPI_IN_PLACE; }
static inline int lrt_MPI_SUCCESS(void) { return MPI_SUCCESS; }
static inline int lrt_MPI_MAX_LIBRARY_VERSION_STRING(void) { return MPI_MAX_LIBRARY_VERSION_STRING; }
static inline int lrt_MPI_MAX_ERROR_STRING(void) { return MPI_MAX_ERROR_STRING; }
static inline int lrt_MPI_THREAD_MULTIPLE(void) { return MPI_THREAD_MULTIPLE; }
static inline int lrt_MPI_THREAD_FUNNELED(void) { return MPI_THREAD_FUNNELED; }

#endif
