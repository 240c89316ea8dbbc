import Foundation
import LRTTensor

/// Random changes made to each training image, drawn from the augmentation stream (off by default).
///
/// Magnitudes (each applied to every image, in the order listed):
/// - `flip`: mirror left-right with probability 1/2.
/// - `crop`: pad 4 pixels of black on every side and cut a window of the original size at a random offset
///   (the CIFAR standard, He et al. 2016).
/// - `translate`: shift by a whole number of pixels, up to 10% of the height and of the width each way (rounded, at
///   least 1 pixel), filling black (Keras `RandomTranslation(0.1, 0.1, fill_mode="constant")`).
/// - `rotate`: turn by up to ±15° about the centre, bilinear, filling black (Keras `RandomRotation(15/360,
///   fill_mode="constant")`).
/// - `brightness`: add one value in [−0.2, 0.2] to every sample, clipped to [0, 1] (Keras `RandomBrightness(0.2)`).
/// - `contrast`: scale each channel's distance from its mean by a factor in [0.8, 1.2], clipped to [0, 1]
///   (Keras `RandomContrast(0.2)`).
/// - `cutout`: black out a square of half the shorter side at a random centre, clipped at the border (DeVries and
///   Taylor 2017).
public struct Augmentation: Equatable, Sendable {
    /// One kind of change.
    public enum Kind: String, CaseIterable, Sendable {
        case flip, crop, translate, rotate, brightness, contrast, cutout
    }

    /// The changes, in the order they are applied.
    public let kinds: [Kind]

    /// The changes named in `list` (comma-separated, e.g. `flip,crop`), applied in ``Kind`` order.
    /// - Throws: `DataError` `.invalidArgument` naming an unknown or repeated name.
    public init(parsing list: String) throws(DataError) {
        var chosen = Set<Kind>()
        for name in list.split(separator: ",", omittingEmptySubsequences: false).map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard let kind = Kind(rawValue: name), chosen.insert(kind).inserted else {
                throw DataError(.invalidArgument, path: nil, "--augment has \(name.isEmpty ? "an empty name" : "'\(name)'"), which is unknown or repeated",
                                hint: "pass a comma-separated list of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
        kinds = Kind.allCases.filter(chosen.contains)
    }

    /// The list as `--augment` takes it, e.g. `flip,crop`.
    public var description: String { kinds.map(\.rawValue).joined(separator: ",") }

    /// Changes one image in place. `image`: [height, width, channels] floats in [0, 1].
    public func apply(to image: UnsafeMutableBufferPointer<Float>, height: Int, width: Int, channels: Int,
                      generator: inout SeededGenerator) {
        precondition(image.count == height * width * channels)
        var scratch = [Float](repeating: 0, count: image.count)  // [height, width, channels]
        /// Moves every pixel: output (row, column) reads input `source(row, column)`, or black outside.
        func remap(_ source: (Int, Int) -> (Int, Int)) {
            for row in 0..<height {
                for column in 0..<width {
                    let (fromRow, fromColumn) = source(row, column)
                    let inside = (0..<height).contains(fromRow) && (0..<width).contains(fromColumn)
                    for channel in 0..<channels {
                        scratch[(row * width + column) * channels + channel] =
                            inside ? image[(fromRow * width + fromColumn) * channels + channel] : 0
                    }
                }
            }
            _ = image.update(fromContentsOf: scratch)
        }
        for kind in kinds {
            switch kind {
            case .flip:
                if generator.next() & 1 == 1 { remap { ($0, width - 1 - $1) } }
            case .crop:
                let top = generator.nextIndex(below: 9) - 4, left = generator.nextIndex(below: 9) - 4
                remap { ($0 + top, $1 + left) }
            case .translate:
                let rows = max(1, Int((Double(height) / 10).rounded())), columns = max(1, Int((Double(width) / 10).rounded()))
                let down = generator.nextIndex(below: 2 * rows + 1) - rows, right = generator.nextIndex(below: 2 * columns + 1) - columns
                remap { ($0 - down, $1 - right) }
            case .rotate:
                rotate(image, into: &scratch, height: height, width: width, channels: channels,
                       degrees: generator.nextFloat(in: -15, 15))
            case .brightness:
                let shift = generator.nextFloat(in: -0.2, 0.2)
                for index in image.indices { image[index] = min(max(image[index] + shift, 0), 1) }
            case .contrast:
                let factor = generator.nextFloat(in: 0.8, 1.2)
                for channel in 0..<channels {
                    var mean: Float = 0
                    for index in stride(from: channel, to: image.count, by: channels) { mean += image[index] }
                    mean /= Float(height * width)
                    for index in stride(from: channel, to: image.count, by: channels) {
                        image[index] = min(max(mean + (image[index] - mean) * factor, 0), 1)
                    }
                }
            case .cutout:
                let side = max(min(height, width) / 2, 1)
                let centerRow = generator.nextIndex(below: height), centerColumn = generator.nextIndex(below: width)
                for row in max(centerRow - side / 2, 0)..<min(centerRow - side / 2 + side, height) {
                    for column in max(centerColumn - side / 2, 0)..<min(centerColumn - side / 2 + side, width) {
                        for channel in 0..<channels { image[(row * width + column) * channels + channel] = 0 }
                    }
                }
            }
        }
    }

    /// Rotates `image` by `degrees` about its centre (bilinear; black outside).
    private func rotate(_ image: UnsafeMutableBufferPointer<Float>, into scratch: inout [Float], height: Int, width: Int,
                        channels: Int, degrees: Float) {
        let angle = degrees * .pi / 180, cosine = cos(angle), sine = sin(angle)
        let centerRow = Float(height - 1) / 2, centerColumn = Float(width - 1) / 2
        func sample(_ row: Int, _ column: Int, _ channel: Int) -> Float {
            (0..<height).contains(row) && (0..<width).contains(column) ? image[(row * width + column) * channels + channel] : 0
        }
        for row in 0..<height {
            for column in 0..<width {
                // The source of each output pixel: the inverse rotation.
                let y = Float(row) - centerRow, x = Float(column) - centerColumn
                let sourceRow = cosine * y - sine * x + centerRow, sourceColumn = sine * y + cosine * x + centerColumn
                let top = Int(sourceRow.rounded(.down)), left = Int(sourceColumn.rounded(.down))
                let down = sourceRow - Float(top), right = sourceColumn - Float(left)
                for channel in 0..<channels {
                    let upper = sample(top, left, channel) * (1 - right) + sample(top, left + 1, channel) * right
                    let lower = sample(top + 1, left, channel) * (1 - right) + sample(top + 1, left + 1, channel) * right
                    scratch[(row * width + column) * channels + channel] = upper * (1 - down) + lower * down
                }
            }
        }
        _ = image.update(fromContentsOf: scratch)
    }
}

/// A dataset whose examples are changed at random by an ``Augmentation`` each time they are filled (training only).
public struct AugmentedDataset: Dataset {
    public let base: any Dataset
    public let augmentation: Augmentation
    public var count: Int { base.count }
    public var labels: [Int32] { base.labels }
    public var classNames: [String] { base.classNames }
    public var exampleShape: [Int] { base.exampleShape }
    public var filePaths: [String]? { base.filePaths }

    /// `base` with `augmentation`; `base`'s examples must be `[height, width, channels]`.
    public init(_ base: any Dataset, augmentation: Augmentation) {
        precondition(base.exampleShape.count == 3, "augmentation needs [height, width, channels] examples")
        self.base = base
        self.augmentation = augmentation
    }

    public func fill(_ indices: ArraySlice<Int>, into batch: inout Tensor, labels: inout [Int32],
                     generator: inout SeededGenerator) throws(DataError) {
        try base.fill(indices, into: &batch, labels: &labels, generator: &generator)
        let shape = exampleShape, exampleSize = shape.reduce(1, *)
        batch.withUnsafeMutableBufferPointer { values in
            for row in 0..<indices.count {
                augmentation.apply(to: UnsafeMutableBufferPointer(rebasing: values[row * exampleSize..<(row + 1) * exampleSize]),
                                   height: shape[0], width: shape[1], channels: shape[2], generator: &generator)
            }
        }
    }

    public func epochOrder(using generator: inout SeededGenerator) -> [Int] { base.epochOrder(using: &generator) }
    public var chunkSize: Int { base.chunkSize }
}
