import Foundation
import LRTData
import LRTFormat
import LRTLayers
import LRTTensor

/// What `lrt predict MODEL PATH…` does: the image files and folders to classify and how to report them.
public struct PredictionConfiguration: Sendable {
    /// An lrt checkpoint or Keras legacy `.h5` model.
    public var modelPath: String
    /// Image files and folders (searched recursively by ``LRTData/ImageListing``'s rules).
    public var paths: [String]
    /// The classes reported per image, most probable first; nil: 5, or the class count when smaller.
    public var topK: Int?
    /// Images per forward pass (default 256).
    public var batchSize = 256
    /// Leave out images that cannot be read (reported in ``PredictionSummary/rejected``) instead of stopping with the
    /// first one (`--on-bad-image skip`).
    public var skipBadImages = false
    /// A CSV file to write, one row per image (`file,class_1,probability_1,…`); nil: none.
    public var csvPath: String?
    /// Replace `csvPath` even when it is not an lrt CSV file.
    public var overwrite = false

    public init(modelPath: String, paths: [String]) {
        self.modelPath = modelPath
        self.paths = paths
    }
}

/// One image's most probable classes.
public struct ImagePrediction: Sendable, Equatable {
    /// The image file.
    public var file: String
    /// The k most probable classes and their probabilities, most probable first (equal ones in class order).
    public var classes: [ClassProbability]
}

/// A class and its probability.
public struct ClassProbability: Sendable, Equatable {
    public var name: String
    public var probability: Double
}

/// What ``ImagePredictions/run(_:)`` found.
public struct PredictionSummary: Sendable {
    /// One entry per image read, in the order of ``PredictionConfiguration/paths`` (each folder's images sorted).
    public var predictions: [ImagePrediction]
    /// The k of every entry.
    public var topK: Int
    /// The model's class names: the checkpoint's, or `"0"`, `"1"`, … for a file that has none.
    public var classNames: [String]
    /// Whether ``classNames`` are class indices because the model file has no class names (a Keras file).
    public var classNamesAreIndices: Bool
    /// How the images were read (the model's saved preprocessing, or the defaults).
    public var preprocessing: Preprocessing
    /// Files under the folders that are not images, for one summary line.
    public var skipped: ImageListing.Skipped
    /// With ``PredictionConfiguration/skipBadImages``: the images left out, each with its reason.
    public var rejected: [DataError]
    /// The model file's warnings (non-finite weights).
    public var warnings: [String]
}

/// Classifies image files with a saved model, reading them as the model's training run did.
public enum ImagePredictions {
    /// The default number of classes reported per image.
    public static let defaultTopK = 5

    /// Loads the model, lists and reads the images with its saved preprocessing (colour mode, size, resize mode;
    /// the defaults for a Keras file), predicts them in batches in inference mode and returns every image's top-k
    /// classes; writes ``PredictionConfiguration/csvPath`` when set. Probabilities are the softmax of the model's
    /// outputs, taken as logits as training takes them (for a model ending in softmax: its own probabilities).
    /// - Throws: `CheckpointError` for the model file, `DataError` naming the first bad image or path (unless
    ///   skipped), ``TrainingError`` for a `topK` or model that cannot be used, `FileError` for the CSV file.
    public static func run(_ configuration: PredictionConfiguration) throws -> PredictionSummary {
        precondition(configuration.batchSize > 0)
        if let csvPath = configuration.csvPath {
            try CSVOutput.check(csvPath, what: "predictions CSV", overwrite: configuration.overwrite,
                                inputs: [configuration.modelPath] + configuration.paths)
        }
        let contents = try Checkpoint.load(from: configuration.modelPath)
        let model = contents.model
        guard model.outputShape.count == 1, let classCount = model.outputShape.first, classCount >= 1 else {
            throw TrainingError.mismatch("\(configuration.modelPath) outputs \(model.outputShape) values per example, not one score per class; use `lrt predict MODEL --inputs X.h5 --out Y.h5` for other outputs")
        }
        let topK = configuration.topK ?? min(defaultTopK, classCount)
        guard (1...classCount).contains(topK) else {
            throw TrainingError.invalidSetting(.topK, value: String(topK),
                                               hint: "the model has \(classCount) classes; use 1 to \(classCount)")
        }
        let saved = contents.training?.classNames ?? []
        let classNamesAreIndices = saved.count != classCount
        let classNames = classNamesAreIndices ? (0..<classCount).map(String.init) : saved
        let files = try ImageFiles.list(configuration.paths, skipBadImages: configuration.skipBadImages)
        let preprocessing = try Runs.imagePreprocessing(model: model, state: contents.training ?? TrainingState()) {
            files.paths.first
        }
        if let normalization = preprocessing.normalization, normalization.channels != preprocessing.colorMode.channels {
            throw TrainingError.mismatch("\(configuration.modelPath) normalizes \(normalization.channels) channels but its images are read as \(preprocessing.colorMode.rawValue); the checkpoint is inconsistent: retrain it or use another")
        }
        var predictions: [ImagePrediction] = []
        var rejected = files.rejected
        var batch = Tensor(shape: [0])
        var labels: [Int32] = []
        for start in stride(from: 0, to: files.paths.count, by: configuration.batchSize) {
            let chunk = Array(files.paths[start..<min(start + configuration.batchSize, files.paths.count)])
            let images = try ImageFolder.load(files: chunk, preprocessing: preprocessing,
                                              skipBadImages: configuration.skipBadImages)
            rejected += images.rejected
            guard images.count > 0 else { continue }
            // As training read them: normalized after decoding when the run measured a normalization.
            let inputs: any Dataset = preprocessing.normalization.map { NormalizedDataset(images, normalization: $0) } ?? images
            try inputs.fill(Array(0..<images.count)[...], into: &batch, labels: &labels)  // [images, height, width, channels]
            let logits = model.infer(batch)  // [images, classes]
            logits.withUnsafeBufferPointer { values in
                for (row, file) in images.imagePaths.enumerated() {
                    let probabilities = EvaluationReport.softmax(UnsafeBufferPointer(rebasing: values[row * classCount..<(row + 1) * classCount]))
                    let ranked = probabilities.indices.sorted {
                        probabilities[$0] != probabilities[$1] ? probabilities[$0] > probabilities[$1] : $0 < $1
                    }
                    predictions.append(ImagePrediction(file: file, classes: ranked.prefix(topK).map {
                        ClassProbability(name: classNames[$0], probability: probabilities[$0])
                    }))
                }
            }
        }
        if let csvPath = configuration.csvPath {
            let header = ["file"] + (1...topK).flatMap { ["class_\($0)", "probability_\($0)"] }
            let rows = predictions.map { prediction in
                [prediction.file] + prediction.classes.flatMap { [$0.name, CSVOutput.number($0.probability)] }
            }
            try CSVOutput.write(csvPath, what: "predictions CSV", header: header, rows: rows,
                                overwrite: configuration.overwrite, inputs: [configuration.modelPath] + configuration.paths)
        }
        return PredictionSummary(predictions: predictions, topK: topK, classNames: classNames,
                                 classNamesAreIndices: classNamesAreIndices, preprocessing: preprocessing,
                                 skipped: files.skipped, rejected: rejected, warnings: contents.warnings)
    }
}
