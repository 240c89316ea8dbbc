#ifndef LRT_CDNNL_SHIM_H
#define LRT_CDNNL_SHIM_H
// oneDNN's C API (Debian's libdnnl-dev 2.6): convolution, inner-product, pooling and reorder
// primitives, engine and stream.
#include <oneapi/dnnl/dnnl.h>
#endif
