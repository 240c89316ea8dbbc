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
    ///   - overwrite: replace an existing `outputPath` that is not an lrt predictions file
    ///     (default false: refused). The output may never be the model or the inputs.
    /// - Throws: ``CheckpointError`` naming the file and dataset when the model or the
    ///   inputs cannot be read, or the inputs do not have the model's input shape.
    public static func run(modelPath: String, inputsPath: String, outputPath: String, inputName: String = "x",
                           batchSize: Int = 256, overwrite: Bool = false) throws -> Summary {
        precondition(batchSize > 0)
        try checkOutput(outputPath, modelPath: modelPath, inputsPath: inputsPath, overwrite: overwrite)
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
        try writeAtomically(outputPath, overwrite: overwrite, inputs: [modelPath, inputsPath]) { root in
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
                throw CheckpointError(path: path, "\(path) has no dataset '\(name)' (it has \(members.prefix(10))); store the inputs as '\(name)' [count, \(exampleShape.map(String.init).joined(separator: ", "))]")
            }
            let shape = try root.datasetShape(name)
            guard shape.count == exampleShape.count + 1, Array(shape.dropFirst()) == exampleShape else {
                throw CheckpointError(path: path, "\(path): /\(name) has shape \(shape) but the model takes [count, \(exampleShape.map(String.init).joined(separator: ", "))]")
            }
            guard shape.reduce(1, *) <= maximumInputElements else {
                throw CheckpointError(path: path, "\(path): /\(name) has \(shape.reduce(1, *)) elements, more than the \(maximumInputElements) lrt predicts at once; split the inputs")
            }
            return (try root.readFloats(name).values, shape)
        } catch {
            throw CheckpointError.carrying(error, path: path)
        }
    }

    /// Writes the predictions file through ``Checkpoint/writeFile(_:what:_:)``, after checking
    /// the target: an existing file must be an lrt predictions file unless `overwrite`, and
    /// the output may be neither the model nor the inputs. Holds the target's lock meanwhile.
    private static func writeAtomically(_ path: String, overwrite: Bool, inputs: [String],
                                        _ body: (HDF5Group) throws -> Void) throws {
        let lock: SafeFile.Lock
        do {
            try SafeFile.Target(path: path, what: "predictions file", overwrite: overwrite, inputs: inputs,
                                isReplaceable: isPredictionsFile).check()
            lock = try SafeFile.Lock(path, what: "predictions file")
        } catch let error as FileError {
            throw CheckpointError(.file(error))
        }
        defer { lock.release() }
        try Checkpoint.writeFile(path, what: "predictions file", body)
    }

    /// Checks `outputPath` before the model is run: see ``run(modelPath:inputsPath:outputPath:inputName:batchSize:overwrite:)``.
    ///
    /// - Throws: ``CheckpointError`` naming the path and a fix.
    public static func checkOutput(_ outputPath: String, modelPath: String, inputsPath: String, overwrite: Bool) throws {
        do {
            try SafeFile.Target(path: outputPath, what: "predictions file", overwrite: overwrite,
                                inputs: [modelPath, inputsPath], isReplaceable: isPredictionsFile).check()
        } catch let error as FileError {
            throw CheckpointError(.file(error))
        }
    }

    /// Whether `path` is a predictions file lrt wrote: `y_pred` and the `model` attribute, no `x`.
    public static func isPredictionsFile(_ path: String) -> Bool {
        guard let file = try? HDF5File.openForReading(atPath: path) else { return false }
        defer { try? file.close() }
        return file.root.contains("y_pred") && file.root.hasAttribute("model") && !file.root.contains("x")
    }
}
