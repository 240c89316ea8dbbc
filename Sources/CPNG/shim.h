#ifndef LRT_CPNG_SHIM_H
#define LRT_CPNG_SHIM_H
// libpng's simplified API only (png_image_*): no setjmp/longjmp.
#include <png.h>

static inline png_uint_32 lrt_png_image_version(void) { return PNG_IMAGE_VERSION; }
static inline png_uint_32 lrt_png_format_gray(void) { return PNG_FORMAT_GRAY; }
static inline png_uint_32 lrt_png_format_rgb(void) { return PNG_FORMAT_RGB; }
static inline int lrt_png_image_failed(const png_image *image) { return PNG_IMAGE_FAILED(*image); }
static inline const char *lrt_png_libpng_version(void) { return PNG_LIBPNG_VER_STRING; }
#endif
