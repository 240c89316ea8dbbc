import Foundation
import LRTData
import LRTLayers

extension Runs {
    /// The input shape and class count a model needs for the dataset at `dataRoot`: one example's
    /// `[height, width, channels]` from the header of the first image of its training folder (`DIR/train`, or DIR
    /// itself when it holds the class folders; channels 3 for a colour image, 1 for gray), and the number of classes,
    /// both by ``ImageListing``'s rules. The full load checks every image later.
    /// - Throws: ``TrainingError`` naming the folder or file when the dataset cannot be listed or read.
    public static func dataShape(root dataRoot: String) throws -> (inputShape: [Int], classCount: Int) {
        let layout = try DatasetLayout.resolve(absolutePath(dataRoot))
        let listing = try ImageListing.list(root: layout.train)
        let header = try ImageDecoder.header(fileAt: listing.imagePaths[0])  // a listing has at least one image
        return ([header.height, header.width, header.channels], listing.classNames.count)
    }

    /// The Keras model config (JSON text) of the built-in architecture `name` (``Architectures``), sized for
    /// the images and classes of the dataset at `dataRoot` (``dataShape(root:)``).
    /// - Throws: ``TrainingError`` for an unknown name, a dataset the architecture cannot take, or an unreadable dataset.
    /// - Parameters:
    ///   - height, width: the input size to build for (`--image-size`; default: the first image's, which the others
    ///     are resized to).
    ///   - channels: the input channels (`--color-mode`; default: the first image's).
    public static func builtInModelConfig(named name: String, dataRoot: String, height: Int? = nil, width: Int? = nil,
                                          channels: Int? = nil) throws -> String {
        let architecture: Architecture
        do { architecture = try Architectures.named(name) } catch let error as ArchitectureError {
            throw TrainingError.architecture(error, data: nil)
        }
        var (inputShape, classCount) = try dataShape(root: dataRoot)
        inputShape = [height ?? inputShape[0], width ?? inputShape[1], channels ?? inputShape[2]]
        do {
            return try architecture.config(inputShape: inputShape, classCount: classCount).serialized
        } catch let error as ArchitectureError {
            throw TrainingError.architecture(error, data: "the input is \(inputShape[0])×\(inputShape[1])×\(inputShape[2]), in \(classCount) classes, from \(absolutePath(dataRoot))")
        }
    }
}
