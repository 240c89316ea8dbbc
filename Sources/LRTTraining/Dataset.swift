import Foundation
import LRTData
import LRTTensor

/// Image geometry a model needs from PNG files.
public struct ImageGeometry: Equatable, Sendable {
    public var height: Int
    public var width: Int
    public var channels: Int

    /// The geometry behind a model input shape: `[h, w, c]`, `[h, w]` (grayscale),
    /// or flat `[n]`, resolved from the size of `sampleImage` (`n = h·w·c`, c ∈ {1, 3}).
    public static func forModelInput(_ shape: [Int], sampleImage: () throws -> String?) throws -> ImageGeometry {
        switch shape.count {
        case 3 where [1, 3].contains(shape[2]):
            return ImageGeometry(height: shape[0], width: shape[1], channels: shape[2])
        case 2:
            return ImageGeometry(height: shape[0], width: shape[1], channels: 1)
        case 1:
            guard let path = try sampleImage() else { break }
            let image = try PNGCodec.decode(fileAt: path, channels: 1)
            let pixels = image.height * image.width
            if shape[0] == pixels { return ImageGeometry(height: image.height, width: image.width, channels: 1) }
            if shape[0] == 3 * pixels { return ImageGeometry(height: image.height, width: image.width, channels: 3) }
            throw TrainingError.mismatch("the model takes \(shape[0]) inputs per example but \(path) is \(image.height)×\(image.width); choose data of matching size")
        default:
            break
        }
        throw TrainingError.mismatch("the model input shape \(shape) is not an image; use [height, width, channels] with 1 or 3 channels")
    }
}

extension ImageFolder {
    /// Loads `root` for a model with input `shape`, with labels in `classNames` order when given.
    static func load(root: String, modelInput shape: [Int], classNames: [String]?) throws -> ImageFolder {
        let geometry = try ImageGeometry.forModelInput(shape) { firstImage(under: root) }
        return try ImageFolder.load(root: root, height: geometry.height, width: geometry.width,
                                    channels: geometry.channels, classNames: classNames)
    }

    /// The first PNG of the first class folder, to size flat inputs from.
    static func firstImage(under root: String) -> String? {
        func entries(_ folder: String) -> [String] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            return names.filter { !$0.hasPrefix(".") }.sorted().map { folder + "/" + $0 }
        }
        var isDirectory: ObjCBool = false
        guard let classFolder = entries(root).first(where: {
            FileManager.default.fileExists(atPath: $0, isDirectory: &isDirectory) && isDirectory.boolValue
        }) else { return nil }
        return entries(classFolder).first { $0.lowercased().hasSuffix(".png") }
    }

    /// Copies the examples `order[range]` into `batch` (`[count, h, w, c]`) and returns their labels.
    func gather(_ order: ArraySlice<Int>, into batch: inout Tensor, labels: inout [Int32]) {
        let exampleSize = height * width * channels
        let shape = [order.count, height, width, channels]
        if batch.count == order.count * exampleSize { batch.reshape(shape) } else { batch = Tensor(shape: shape) }
        labels.removeAll(keepingCapacity: true)
        pixels.withUnsafeBufferPointer { source in
            batch.withUnsafeMutableBufferPointer { destination in
                for (row, example) in order.enumerated() {
                    let target = UnsafeMutableBufferPointer(rebasing: destination[row * exampleSize..<(row + 1) * exampleSize])
                    _ = target.update(fromContentsOf: source[example * exampleSize..<(example + 1) * exampleSize])
                    labels.append(self.labels[example])
                }
            }
        }
    }
}
