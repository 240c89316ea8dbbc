#ifndef LRT_CBLAS_SHIM_H
#define LRT_CBLAS_SHIM_H
// OpenBLAS's CBLAS interface, plus its runtime queries:
// openblas_get_corename(), openblas_get_num_threads(), openblas_get_config().
#include <cblas.h>
#endif
