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
        /// The class names written beside `y_pred`: the checkpoint's, or `"0"`, `"1"`, … (empty when the model's
        /// output is not one score per class).
        public var classNames: [String]
        /// Whether ``classNames`` are indices because the model file holds none (a Keras file).
        public var classNamesAreIndices: Bool
    }

    /// Most input elements read at once (2^28, 1 GiB of float32).
    public static let maximumInputElements = 1 << 28

    /// Loads the model in `modelPath` (an lrt checkpoint or Keras `.h5`), predicts the
    /// dataset `inputName` of `inputsPath` (float, or an integer type with `scale`;
    /// `[count, …inputShape]`) in inference mode, and writes `y_pred` (float32
    /// `[count, …outputShape]`: probabilities when the model ends in softmax) to `outputPath`,
    /// atomically, with the class names in its `class_names` attribute (Schemas/predictions.md).
    ///
    /// - Parameters:
    ///   - inputName: the dataset holding the inputs (default `x`).
    ///   - scale: every input is divided by this (e.g. 255 for 8-bit pixels, when the model was trained on
    ///     [0, 1]); nil (the default) takes float inputs as they are and refuses integer ones, whose scale
    ///     cannot be guessed.
    ///   - batchSize: examples per forward pass (default 256).
    ///   - overwrite: replace an existing `outputPath` that is not an lrt predictions file
    ///     (default false: refused). The output may never be the model or the inputs.
    /// - Throws: ``CheckpointError`` naming the file and dataset when the model or the
    ///   inputs cannot be read, the inputs do not have the model's input shape, or they are
    ///   integers and no `scale` is given; naming `scale` when it is not a positive number.
    public static func run(modelPath: String, inputsPath: String, outputPath: String, inputName: String = "x",
                           batchSize: Int = 256, scale: Double? = nil, overwrite: Bool = false) throws -> Summary {
        precondition(batchSize > 0)
        if let scale, !(scale.isFinite && scale > 0) {
            throw CheckpointError(path: inputsPath, "cannot scale \(inputsPath) by \(scale): pass the positive value its inputs are divided by, e.g. 255")
        }
        try checkOutput(outputPath, modelPath: modelPath, inputsPath: inputsPath, overwrite: overwrite)
        let contents = try Checkpoint.load(from: modelPath)
        let model = contents.model
        let (read, shape) = try readInputs(inputsPath, name: inputName, exampleShape: model.inputShape, scale: scale)
        var inputs = read
        if let scale {
            let factor = Float(1 / scale)
            for index in inputs.indices { inputs[index] *= factor }
        }
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
        let classCount = model.outputShape.count == 1 ? model.outputShape[0] : 0
        let saved = contents.training?.classNames ?? []
        let classNamesAreIndices = classCount > 0 && saved.count != classCount
        let classNames = classCount == 0 ? [] : classNamesAreIndices ? (0..<classCount).map(String.init) : saved
        try writeAtomically(outputPath, overwrite: overwrite, inputs: [modelPath, inputsPath]) { root in
            try root.writeFloats("y_pred", outputs, shape: outputShape)
            try root.setAttribute("model", string: modelPath)
            if classCount > 0 {
                let predictions = try root.openDataset("y_pred")
                try predictions.setAttribute("class_names", strings: classNames)
                try predictions.setAttribute("class_names_source", string: classNamesAreIndices ? "indices" : "checkpoint")
            }
            if let scale { try root.setAttribute("input_scale", double: scale) }
        }
        return Summary(count: count, outputShape: outputShape, warnings: contents.warnings, classNames: classNames,
                       classNamesAreIndices: classNamesAreIndices)
    }

    private static func readInputs(_ path: String, name: String, exampleShape: [Int], scale: Double?) throws -> ([Float], [Int]) {
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
            let type = try root.datasetType(name)
            if scale == nil, type.kind == .signedInteger || type.kind == .unsignedInteger {
                throw CheckpointError(path: path, "\(path): /\(name) holds \(type) values; pass --scale 255 to divide them by 255 (pixels for a model trained on [0, 1]), or --scale 1 to use them as they are")
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
