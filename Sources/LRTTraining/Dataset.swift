import Foundation
import LRTData
import LRTTensor

extension ImageFolder {
    /// Loads `root` for a model with input `shape`, with labels in `classNames` order when given.
    static func load(root: String, modelInput shape: [Int], classNames: [String]?) throws -> ImageFolder {
        let listing = try ImageListing.list(root: root, classNames: classNames)
        let geometry = try ImageGeometry.forModelInput(shape) { listing.imagePaths.first }
        return try ImageFolder.load(listing, height: geometry.height, width: geometry.width, channels: geometry.channels)
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
