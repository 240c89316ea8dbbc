/// How an image whose size differs from the model's input is brought to it (Keras's `image_dataset_from_directory`).
public enum ResizeMode: String, Sendable, CaseIterable, Codable {
    /// Resize the whole image, changing its aspect ratio if need be (Keras's default).
    case stretch
    /// Cut the largest centred window of the target aspect ratio, then resize (Keras's `crop_to_aspect_ratio`).
    case crop
    /// Pad with black, centred, to the target aspect ratio, then resize (Keras's `pad_to_aspect_ratio`).
    case pad
    /// Refuse images of another size.
    case error
}

/// Resizes 8-bit images by bilinear interpolation, antialiased when shrinking (the filter widens by the shrink
/// factor), with the integer arithmetic of Pillow's `Image.resize(size, Image.BILINEAR)` (`Resample.c`: 22-bit
/// fixed-point weights, a horizontal pass rounded to 8 bits, then a vertical pass), so results match Pillow's.
public enum ImageResizer {
    /// `image` brought to `height` × `width` by `mode`.
    /// - Throws: `DataError` `.sizeMismatch` naming `path` when `mode` is `.error` and the sizes differ.
    public static func fit(_ image: DecodedImage, height: Int, width: Int, mode: ResizeMode, path: String) throws(DataError) -> DecodedImage {
        if image.height == height && image.width == width { return image }
        switch mode {
        case .error:
            throw DataError(.sizeMismatch, path: path, "image is \(image.height)×\(image.width) but \(height)×\(width) is expected",
                            hint: "pass --resize stretch, crop or pad, or choose a model whose input is \(image.height)×\(image.width)")
        case .stretch:
            return resize(image, height: height, width: width)
        case .crop:
            // Keras: crop_height = min(h, int(w·H/W)), crop_width = min(w, int(h·W/H)), centred.
            let cropHeight = min(image.height, Int(Float(image.width * height) / Float(width)))
            let cropWidth = min(image.width, Int(Float(image.height * width) / Float(height)))
            let window = copyWindow(image, top: (image.height - cropHeight) / 2, left: (image.width - cropWidth) / 2,
                                    height: max(cropHeight, 1), width: max(cropWidth, 1))
            return resize(window, height: height, width: width)
        case .pad:
            // Keras: pad_height = max(h, int(w·H/W)), pad_width = max(w, int(h·W/H)), image centred on black.
            let padHeight = max(image.height, Int(Float(image.width * height) / Float(width)))
            let padWidth = max(image.width, Int(Float(image.height * width) / Float(height)))
            let window = copyWindow(image, top: -((padHeight - image.height) / 2), left: -((padWidth - image.width) / 2),
                                    height: padHeight, width: padWidth)
            return resize(window, height: height, width: width)
        }
    }

    /// The `height` × `width` window of `image` whose top-left corner is at (`top`, `left`); outside the image, 0.
    static func copyWindow(_ image: DecodedImage, top: Int, left: Int, height: Int, width: Int) -> DecodedImage {
        let channels = image.channels
        var pixels = [UInt8](repeating: 0, count: height * width * channels)  // [height, width, channels]
        for row in 0..<height where (0..<image.height).contains(row + top) {
            let firstColumn = max(0, -left), lastColumn = min(width, image.width - left)
            guard firstColumn < lastColumn else { continue }
            let source = ((row + top) * image.width + firstColumn + left) * channels
            let target = (row * width + firstColumn) * channels
            let count = (lastColumn - firstColumn) * channels
            pixels.replaceSubrange(target..<target + count, with: image.pixels[source..<source + count])
        }
        return DecodedImage(height: height, width: width, channels: channels, pixels: pixels)
    }

    /// Bilinear resize of `image` to `height` × `width`, as Pillow's `resize(…, BILINEAR)`.
    public static func resize(_ image: DecodedImage, height: Int, width: Int) -> DecodedImage {
        precondition(height > 0 && width > 0, "resize to \(height)×\(width)")
        if image.height == height && image.width == width { return image }
        let horizontal = Weights(inputSize: image.width, outputSize: width)
        let vertical = Weights(inputSize: image.height, outputSize: height)
        var current = image
        if width != image.width {
            // Only the rows the vertical pass reads.
            let firstRow = vertical.first[0]
            let lastRow = vertical.first[height - 1] + vertical.count[height - 1]
            current = pass(current, weights: horizontal, horizontal: true, rows: firstRow..<lastRow)
            if height != image.height { return pass(current, weights: vertical.shifted(by: -firstRow), horizontal: false, rows: 0..<0) }
            return current
        }
        return pass(current, weights: vertical, horizontal: false, rows: 0..<0)
    }

    /// Pillow's `PRECISION_BITS`.
    private static let precisionBits = 22

    /// Per output position: the first input index, how many inputs, and their fixed-point weights.
    struct Weights {
        var first: [Int], count: [Int]
        /// [outputSize, kernelSize]
        var weights: [Int32]
        let kernelSize: Int

        /// Pillow's `precompute_coeffs` for the bilinear (triangle, support 1) filter, then `normalize_coeffs_8bpc`.
        init(inputSize: Int, outputSize: Int) {
            let scale = Double(inputSize) / Double(outputSize)
            let filterScale = max(scale, 1)
            let support = filterScale  // the triangle's support, 1, widened when shrinking
            kernelSize = Int(support.rounded(.up)) * 2 + 1
            first = []
            count = []
            let inverseScale = 1 / filterScale
            weights = [Int32](repeating: 0, count: outputSize * kernelSize)
            var kernel = [Double](repeating: 0, count: kernelSize)
            for output in 0..<outputSize {
                let center = (Double(output) + 0.5) * scale
                let lower = max(Int(center - support + 0.5), 0)
                let upper = min(Int(center + support + 0.5), inputSize)
                var total = 0.0
                for index in 0..<(upper - lower) {
                    let distance = abs((Double(index + lower) - center + 0.5) * inverseScale)
                    kernel[index] = distance < 1 ? 1 - distance : 0
                    total += kernel[index]
                }
                for index in 0..<(upper - lower) {
                    let weight = total != 0 ? kernel[index] / total : kernel[index]
                    let scaled = weight * Double(1 << ImageResizer.precisionBits)
                    weights[output * kernelSize + index] = Int32(scaled < 0 ? scaled - 0.5 : scaled + 0.5)
                }
                first.append(lower)
                count.append(upper - lower)
            }
        }

        func shifted(by offset: Int) -> Weights {
            var copy = self
            copy.first = first.map { $0 + offset }
            return copy
        }
    }

    /// One pass along rows (`horizontal`, over input `rows`) or columns, with Pillow's rounding and clipping.
    private static func pass(_ image: DecodedImage, weights: Weights, horizontal: Bool, rows: Range<Int>) -> DecodedImage {
        let channels = image.channels
        let outputHeight = horizontal ? rows.count : weights.first.count
        let outputWidth = horizontal ? weights.first.count : image.width
        let half = Int64(1) << (precisionBits - 1), maximum = Int64(256) << precisionBits
        var pixels = [UInt8](repeating: 0, count: outputHeight * outputWidth * channels)  // [height, width, channels]
        image.pixels.withUnsafeBufferPointer { input in
            pixels.withUnsafeMutableBufferPointer { output in
                weights.weights.withUnsafeBufferPointer { kernel in
                    for row in 0..<outputHeight {
                        for column in 0..<outputWidth {
                            let position = horizontal ? column : row
                            let first = weights.first[position], count = weights.count[position]
                            let coefficients = position * weights.kernelSize
                            for channel in 0..<channels {
                                var sum = half
                                for tap in 0..<count {
                                    let sourceIndex = horizontal
                                        ? ((row + rows.lowerBound) * image.width + first + tap) * channels + channel
                                        : ((first + tap) * image.width + column) * channels + channel
                                    sum += Int64(input[sourceIndex]) * Int64(kernel[coefficients + tap])
                                }
                                // Pillow's clip8 on the 32-bit sum.
                                let value: UInt8 = sum >= maximum ? 255 : sum <= 0 ? 0 : UInt8(sum >> Int64(precisionBits))
                                output[(row * outputWidth + column) * channels + channel] = value
                            }
                        }
                    }
                }
            }
        }
        return DecodedImage(height: outputHeight, width: outputWidth, channels: channels, pixels: pixels)
    }
}
