#ifndef LRT_CPNG_SHIM_H
#define LRT_CPNG_SHIM_H
// libpng for lrt. Writing uses the simplified API (png_image_*). Reading uses the low-level API through
// the two functions below, so that no gamma, sRGB or ICC conversion is applied: the samples come out as
// stored. libpng reports errors by longjmp, which Swift cannot catch, so the setjmp lives here.
#include <png.h>
#include <setjmp.h>
#include <string.h>

static inline png_uint_32 lrt_png_image_version(void) { return PNG_IMAGE_VERSION; }
static inline png_uint_32 lrt_png_format_gray(void) { return PNG_FORMAT_GRAY; }
static inline png_uint_32 lrt_png_format_rgb(void) { return PNG_FORMAT_RGB; }
static inline png_uint_32 lrt_png_format_rgba(void) { return PNG_FORMAT_RGBA; }
static inline int lrt_png_image_failed(const png_image *image) { return PNG_IMAGE_FAILED(*image); }
static inline const char *lrt_png_libpng_version(void) { return PNG_LIBPNG_VER_STRING; }

/// What a PNG holds after palette expansion and gray 1/2/4 → 8 bits: the samples `lrt_png_decode` writes.
typedef struct {
    png_uint_32 height, width;
    /// 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA.
    int channels;
    /// 8 or 16 (16-bit samples are written big-endian, as stored).
    int bitDepth;
    /// The file's own colour type and bit depth (PNG_COLOR_TYPE_*), for messages.
    int colorType, fileBitDepth;
    int interlaced;
    /// libpng's error text, NUL-terminated.
    char message[160];
} lrt_png_info;

typedef struct {
    const unsigned char *bytes;
    size_t size, offset;
    jmp_buf jump;
    lrt_png_info *info;
} lrt_png_reader;

static void lrt_png_on_error(png_structp png, png_const_charp text) {
    lrt_png_reader *reader = (lrt_png_reader *)png_get_error_ptr(png);
    strncpy(reader->info->message, text ? text : "unknown error", sizeof reader->info->message - 1);
    reader->info->message[sizeof reader->info->message - 1] = 0;
    longjmp(reader->jump, 1);
}

static void lrt_png_on_warning(png_structp png, png_const_charp text) { (void)png; (void)text; }

static void lrt_png_on_read(png_structp png, png_bytep target, size_t length) {
    lrt_png_reader *reader = (lrt_png_reader *)png_get_io_ptr(png);
    if (length > reader->size - reader->offset) png_error(png, "file is truncated");
    memcpy(target, reader->bytes + reader->offset, length);
    reader->offset += length;
}

/// Reads the header of the PNG in `bytes` (`pixels` NULL) or decodes it into `pixels`, which must hold
/// height · width · channels · bitDepth/8 bytes as a header read reported. `alpha`: keep the alpha channel, turning
/// a tRNS chunk into one. Returns 1 on success, 0 with `info->message` set on failure.
static inline int lrt_png_read(const unsigned char *bytes, size_t size, int alpha, lrt_png_info *info,
                               unsigned char *pixels) {
    lrt_png_reader reader = {bytes, size, 0, {0}, info};
    info->message[0] = 0;
    if (size < 8 || png_sig_cmp(bytes, 0, 8) != 0) {
        strcpy(info->message, "not a PNG file (no PNG signature)");
        return 0;
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, lrt_png_on_error, lrt_png_on_warning);
    if (!png) { strcpy(info->message, "out of memory"); return 0; }
    png_infop pngInfo = png_create_info_struct(png);
    png_bytep *rows = NULL;
    // Locals changed after setjmp and read after a longjmp must be volatile.
    png_bytep *volatile rowsToFree = NULL;
    if (!pngInfo || setjmp(reader.jump)) {
        if (!pngInfo) strcpy(info->message, "out of memory");
        png_free(png, rowsToFree);
        png_destroy_read_struct(&png, pngInfo ? &pngInfo : NULL, NULL);
        return 0;
    }
    png_set_read_fn(png, &reader, lrt_png_on_read);
    // lrt checks the size itself before decoding; libpng's own limit (1,000,000 per side) stays.
    png_read_info(png, pngInfo);
    int colorType = png_get_color_type(png, pngInfo);
    info->colorType = colorType;
    info->fileBitDepth = png_get_bit_depth(png, pngInfo);
    info->interlaced = png_get_interlace_type(png, pngInfo) != PNG_INTERLACE_NONE;
    if (colorType == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (colorType == PNG_COLOR_TYPE_GRAY && info->fileBitDepth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (alpha && png_get_valid(png, pngInfo, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, pngInfo);
    info->height = png_get_image_height(png, pngInfo);
    info->width = png_get_image_width(png, pngInfo);
    info->channels = png_get_channels(png, pngInfo);
    info->bitDepth = png_get_bit_depth(png, pngInfo);
    if (pixels) {
        size_t rowBytes = png_get_rowbytes(png, pngInfo);
        rows = (png_bytep *)png_malloc(png, sizeof(png_bytep) * info->height);
        rowsToFree = rows;
        for (png_uint_32 row = 0; row < info->height; row++) rows[row] = pixels + (size_t)row * rowBytes;
        (void)passes;
        png_read_image(png, rows);
        png_read_end(png, NULL);
    }
    png_free(png, rowsToFree);
    png_destroy_read_struct(&png, &pngInfo, NULL);
    return 1;
}
#endif
