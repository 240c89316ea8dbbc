#ifndef LRT_CJPEG_SHIM_H
#define LRT_CJPEG_SHIM_H
// libjpeg-turbo's TurboJPEG API (Debian: libturbojpeg0-dev). It reports errors by return value, not longjmp.
#include <stdio.h>
#include <jconfig.h>
#include <turbojpeg.h>

static inline int lrt_libjpeg_turbo_version_number(void) { return LIBJPEG_TURBO_VERSION_NUMBER; }

static inline int lrt_tj_pixel_format_gray(void) { return TJPF_GRAY; }
static inline int lrt_tj_pixel_format_rgb(void) { return TJPF_RGB; }
static inline int lrt_tj_colorspace_cmyk(void) { return TJCS_CMYK; }
static inline int lrt_tj_colorspace_ycck(void) { return TJCS_YCCK; }
static inline int lrt_tj_colorspace_gray(void) { return TJCS_GRAY; }
#endif
