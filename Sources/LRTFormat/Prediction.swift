import Foundation
import LRTHDF5
import LRTLayers
import LRTTensor

/// Predictions for inputs stored in an HDF5 file, written to another: the layout of
/// Keras reference files (`x` in, `y_pred` out), so lrt and Keras can be compared with h5py.
public enum Prediction {
    /// What ``run(modelPath:inputsPath:outputPath:inputName:batchSize:)`` did.
    public struct Summary: Sendable {
        /// Examples predicted.
        public var count: Int
        /// `[count, …outputShape]`.
        public var outputShape: [Int]
        /// The model file's warnings (non-finite weights).
        public var warnings: [String]
    }

    /// Most input elements read at once (2^28, 1 GiB of float32).
    public static let maximumInputElements = 1 << 28

    /// Loads the model in `modelPath` (an lrt checkpoint or Keras `.h5`), predicts the
    /// dataset `inputName` of `inputsPath` (float32 or any numeric type, `[count, …inputShape]`)
    /// in inference mode, and writes `y_pred` (float32 `[count, …outputShape]`: probabilities
    /// when the model ends in softmax) to `outputPath`, atomically.
    ///
    /// - Parameters:
    ///   - inputName: the dataset holding the inputs (default `x`).
    ///   - batchSize: examples per forward pass (default 256).
    /// - Throws: ``CheckpointError`` naming the file and dataset when the model or the
    ///   inputs cannot be read, or the inputs do not have the model's input shape.
    public static func run(modelPath: String, inputsPath: String, outputPath: String, inputName: String = "x",
                           batchSize: Int = 256) throws -> Summary {
        precondition(batchSize > 0)
        let contents = try Checkpoint.load(from: modelPath)
        let model = contents.model
        let (inputs, shape) = try readInputs(inputsPath, name: inputName, exampleShape: model.inputShape)
        let count = shape[0]
        let exampleSize = model.inputShape.reduce(1, *)
        let outputSize = model.outputShape.reduce(1, *)
        var outputs = [Float]()
        outputs.reserveCapacity(count * outputSize)
        for start in stride(from: 0, to: count, by: batchSize) {
            let end = min(start + batchSize, count)
            let batch = Tensor(shape: [end - start] + model.inputShape,
                               storage: Array(inputs[start * exampleSize ..< end * exampleSize]))
            outputs += model.predict(batch).storage
        }
        let outputShape = [count] + model.outputShape
        try writeAtomically(outputPath) { root in
            try root.writeFloats("y_pred", outputs, shape: outputShape)
            try root.setAttribute("model", string: modelPath)
        }
        return Summary(count: count, outputShape: outputShape, warnings: contents.warnings)
    }

    private static func readInputs(_ path: String, name: String, exampleShape: [Int]) throws -> ([Float], [Int]) {
        do {
            let root = try HDF5File.openForReading(atPath: path).root
            guard root.contains(name) else {
                let members = (try? root.memberNames()) ?? []
                throw CheckpointError("\(path) has no dataset '\(name)' (it has \(members.prefix(10))); store the inputs as '\(name)' [count, \(exampleShape.map(String.init).joined(separator: ", "))]")
            }
            let shape = try root.datasetShape(name)
            guard shape.count == exampleShape.count + 1, Array(shape.dropFirst()) == exampleShape else {
                throw CheckpointError("\(path): /\(name) has shape \(shape) but the model takes [count, \(exampleShape.map(String.init).joined(separator: ", "))]")
            }
            guard shape.reduce(1, *) <= maximumInputElements else {
                throw CheckpointError("\(path): /\(name) has \(shape.reduce(1, *)) elements, more than the \(maximumInputElements) lrt predicts at once; split the inputs")
            }
            return (try root.readFloats(name).values, shape)
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw CheckpointError("\(error)")
        }
    }

    /// Writes a new HDF5 file beside `path` and renames it over `path` when complete.
    private static func writeAtomically(_ path: String, _ body: (HDF5Group) throws -> Void) throws {
        try Checkpoint.checkWritable(path)
        let temporaryPath = Checkpoint.temporaryPath(for: path)
        do {
            let file = try HDF5File.create(atPath: temporaryPath)
            try body(file.root)
            try file.close()
            guard rename(temporaryPath, path) == 0 else {
                throw CheckpointError("cannot move the finished file to \(path): \(String(cString: strerror(errno)))")
            }
        } catch {
            unlink(temporaryPath)
            if error is CheckpointError { throw error }
            throw CheckpointError("cannot write \(path): \(error)")
        }
    }
}
