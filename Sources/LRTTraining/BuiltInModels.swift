import Foundation
import LRTData
import LRTLayers

extension Runs {
    /// The input shape and class count a model needs for the dataset at `dataRoot`: one example's
    /// `[height, width, channels]` from the header of the first image of `dataRoot/train` (channels 3 for a
    /// colour PNG, 1 for gray), and the number of class folders there. The full load checks every image later.
    /// - Throws: ``TrainingError`` naming the folder when it has no `train/` class folders or no PNG in the first.
    public static func dataShape(root dataRoot: String) throws -> (inputShape: [Int], classCount: Int) {
        let train = absolutePath(dataRoot) + "/train"
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: train, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TrainingError.data(path: absolutePath(dataRoot), problem: "data folder \(absolutePath(dataRoot)) has no train/ subfolder; lay it out as DIR/{train,test}/<class>/*.png")
        }
        let classCount = ((try? FileManager.default.contentsOfDirectory(atPath: train)) ?? []).filter { name in
            var entryIsDirectory: ObjCBool = false
            return !name.hasPrefix(".") && FileManager.default.fileExists(atPath: train + "/" + name, isDirectory: &entryIsDirectory)
                && entryIsDirectory.boolValue
        }.count
        guard classCount > 0, let image = ImageFolder.firstImage(under: train) else {
            throw TrainingError.data(path: train, problem: "\(train) has no class folder with PNG images; put them in \(train)/<class>/*.png")
        }
        let header = try PNGCodec.header(fileAt: image)
        return ([header.height, header.width, header.channels], classCount)
    }

    /// The Keras model config (JSON text) of the built-in architecture `name` (``Architectures``), sized for
    /// the images and classes of the dataset at `dataRoot` (``dataShape(root:)``).
    /// - Throws: ``TrainingError`` for an unknown name, a dataset the architecture cannot take, or an unreadable dataset.
    public static func builtInModelConfig(named name: String, dataRoot: String) throws -> String {
        let architecture: Architecture
        do { architecture = try Architectures.named(name) } catch let error as ArchitectureError {
            throw TrainingError.architecture(error, data: nil)
        }
        let (inputShape, classCount) = try dataShape(root: dataRoot)
        do {
            return try architecture.config(inputShape: inputShape, classCount: classCount).serialized
        } catch let error as ArchitectureError {
            throw TrainingError.architecture(error, data: "the images of \(absolutePath(dataRoot))/train are \(inputShape[0])×\(inputShape[1])×\(inputShape[2]), in \(classCount) classes")
        }
    }
}
