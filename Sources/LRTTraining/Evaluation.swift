import Foundation
import LRTData
import LRTDistributed
import LRTLayers
import LRTTensor

/// What ``EvaluationReport/evaluate(_:on:options:)`` computes beyond loss and accuracy.
public struct EvaluationOptions: Sendable {
    /// Examples per forward pass (default 1000).
    public var batchSize = 1000
    /// The k of top-k accuracy (default 5); left out of the report when the model has k classes or fewer.
    public var topK = 5
    /// Keep every example's class probabilities in ``EvaluationReport/outcomes`` (for `lrt eval --predictions`;
    /// default false: `count × classes` floats).
    public var keepProbabilities = false
    public init() {}
}

/// How well a model classifies a labelled dataset: loss, accuracy, top-k accuracy, per-class precision, recall, F1 and
/// support with macro and weighted averages (as scikit-learn's `classification_report`), the confusion matrix, and the
/// outcome for every example.
public struct EvaluationReport: Sendable {
    /// One class's row of the report.
    public struct ClassMetrics: Sendable, Equatable {
        public var name: String
        /// Correct predictions of this class over all predictions of it (0 when it is never predicted, as
        /// scikit-learn's `zero_division=0`).
        public var precision: Double
        /// Correct predictions of this class over its examples (0 when it has none).
        public var recall: Double
        /// The harmonic mean of precision and recall (0 when both are 0).
        public var f1: Double
        /// The number of examples of this class.
        public var support: Int
        /// The examples of this class predicted as it.
        public var correct: Int
        /// The examples predicted as this class.
        public var predicted: Int
        /// ``support``, the name the earlier report used.
        public var count: Int { support }
    }

    /// An average of the per-class rows.
    public struct Average: Sendable, Equatable {
        public var precision: Double
        public var recall: Double
        public var f1: Double
        /// The examples averaged over.
        public var support: Int
    }

    /// What the model made of one example.
    public struct Outcome: Sendable, Equatable {
        /// The example's index in the dataset.
        public var index: Int
        /// The file it was read from, when the dataset knows it.
        public var file: String?
        /// Its true class.
        public var label: Int
        /// The most probable class (the first of equals).
        public var predicted: Int
        /// The probability of ``predicted``.
        public var probability: Double
        /// With ``EvaluationOptions/keepProbabilities``: every class's probability. [classes]
        public var probabilities: [Float]?
        /// Whether the prediction is wrong.
        public var isError: Bool { predicted != label }
    }

    /// Mean sparse categorical cross-entropy.
    public var loss: Double
    /// Fraction of examples whose most probable class is their label.
    public var accuracy: Double
    /// Number of examples.
    public var count: Int
    /// The class names, label order.
    public var classNames: [String]
    /// The k of ``topKAccuracy``.
    public var topK: Int
    /// Fraction of examples whose label is among their k most probable classes; nil when the model has k classes or
    /// fewer (it would always be 1).
    public var topKAccuracy: Double?
    /// Examples of true class `i` predicted as class `j` in `confusion[i][j]`. [classes, classes]
    public var confusion: [[Int]]
    /// Per class, in label order.
    public var perClass: [ClassMetrics]
    /// The unweighted mean over the classes that have examples or predictions (scikit-learn's default labels).
    public var macroAverage: Average
    /// The mean over classes weighted by their support.
    public var weightedAverage: Average
    /// Every example's outcome, in dataset order.
    public var outcomes: [Outcome]
    /// Wall-clock seconds of the forward passes (batch assembly included, data loading not).
    public var seconds: Double
    /// Inference throughput.
    public var imagesPerSecond: Double { Double(count) / max(seconds, 1e-9) }

    /// The `limit` wrong predictions made with the highest probability, most confident first (ties in dataset order).
    public func mostConfidentErrors(_ limit: Int) -> [Outcome] {
        let errors = outcomes.filter(\.isError).enumerated().sorted {
            $0.element.probability != $1.element.probability ? $0.element.probability > $1.element.probability : $0.offset < $1.offset
        }
        return errors.prefix(max(limit, 0)).map(\.element)
    }

    /// Evaluates `model` on all of `data` in batches of `batchSize` (inference mode).
    /// - Throws: `DataError` when `data`'s examples cannot be read.
    public static func evaluate(_ model: any Model, on data: any Dataset, batchSize: Int = 1000) throws(DataError) -> EvaluationReport {
        var options = EvaluationOptions()
        options.batchSize = batchSize
        return try evaluate(model, on: data, options: options)
    }

    /// Evaluates `model` on all of `data` (inference mode): the model's outputs are taken as logits, as training and
    /// ``SoftmaxCrossEntropy`` take them, and the probabilities are their softmax.
    /// - Throws: `DataError` when `data`'s examples cannot be read.
    public static func evaluate(_ model: any Model, on data: any Dataset, options: EvaluationOptions) throws(DataError) -> EvaluationReport {
        report(try measure(model, on: data, examples: 0..<data.count, options: options), data: data, options: options)
    }

    /// ``evaluate(_:on:options:)`` sharded over the ranks of an MPI run: each rank evaluates a contiguous shard of
    /// `data`, and the loss sum, the correct and top-k counts and every example's outcome (from which the confusion
    /// matrix and the per-class rows are counted) are added up over the ranks, so that every rank returns the report
    /// one process makes (the loss up to the order of its float sums; ``seconds`` is the slowest rank's).
    /// With one rank it is ``evaluate(_:on:options:)``.
    /// - Throws: ``TrainingError/unreadableData(_:)`` when `data`'s examples cannot be read,
    ///   ``TrainingError/communication(_:)`` when a collective fails or times out.
    public static func evaluate(_ model: any Model, on data: any Dataset, options: EvaluationOptions,
                                communicator: any Communicator) throws(TrainingError) -> EvaluationReport {
        var part: Part
        do { part = try measure(model, on: data, examples: communicator.shard(of: 0..<data.count), options: options) } catch {
            throw .unreadableData(error)
        }
        guard communicator.size > 1 else { return report(part, data: data, options: options) }
        do {
            try part.addUp(over: communicator, count: data.count, classCount: data.classNames.count,
                           keepProbabilities: options.keepProbabilities, files: data.filePaths)
        } catch {
            throw .communication(error)
        }
        return report(part, data: data, options: options)
    }

    /// What one shard of an evaluation measures: the sums over its examples and their outcomes.
    struct Part {
        var lossSum = 0.0
        var correct = 0, topKCorrect = 0
        /// In dataset order.
        var outcomes: [Outcome] = []
        var seconds = 0.0

        /// Replaces this shard's sums by those of all ranks and its outcomes by every example's, in dataset order:
        /// each rank writes its outcomes into a zeroed table of all `count` examples and the tables are summed
        /// (adding zeros is exact, so the outcomes are those the ranks computed, bit for bit).
        mutating func addUp(over communicator: any Communicator, count: Int, classCount: Int, keepProbabilities: Bool,
                            files: [String]?) throws(CommunicatorError) {
            var totals = [lossSum, Double(correct), Double(topKCorrect)]
            try communicator.allreduceSum(&totals)
            (lossSum, correct, topKCorrect) = (totals[0], Int(totals[1].rounded()), Int(totals[2].rounded()))
            var slowest = [seconds]
            try communicator.allreduceMaximum(&slowest)
            seconds = slowest[0]
            let fields = 3  // [label, predicted, probability] per example
            var table = [Double](repeating: 0, count: count * fields)
            for outcome in outcomes {
                table[outcome.index * fields] = Double(outcome.label)
                table[outcome.index * fields + 1] = Double(outcome.predicted)
                table[outcome.index * fields + 2] = outcome.probability
            }
            try communicator.allreduceSum(&table)
            var probabilities: [Float] = []  // [count, classes]
            if keepProbabilities {
                probabilities = [Float](repeating: 0, count: count * classCount)
                for outcome in outcomes {
                    for (column, value) in (outcome.probabilities ?? []).enumerated() { probabilities[outcome.index * classCount + column] = value }
                }
                try communicator.allreduceSum(&probabilities)
            }
            outcomes = (0..<count).map { index in
                Outcome(index: index, file: files?[index], label: Int(table[index * fields]),
                        predicted: Int(table[index * fields + 1]), probability: table[index * fields + 2],
                        probabilities: keepProbabilities ? Array(probabilities[index * classCount..<(index + 1) * classCount]) : nil)
            }
        }
    }

    /// Evaluates `model` on the examples `examples` of `data` in batches of ``EvaluationOptions/batchSize``.
    /// - Throws: `DataError` when `data`'s examples cannot be read.
    static func measure(_ model: any Model, on data: any Dataset, examples: Range<Int>, options: EvaluationOptions) throws(DataError) -> Part {
        precondition(options.batchSize > 0 && options.topK > 0)
        var part = Part()
        part.outcomes.reserveCapacity(examples.count)
        let files = data.filePaths
        let started = DispatchTime.now().uptimeNanoseconds
        var batch = Tensor(shape: [0])
        var labels: [Int32] = []
        let order = Array(examples)
        for start in stride(from: 0, to: order.count, by: options.batchSize) {
            let slice = order[start..<min(start + options.batchSize, order.count)]
            try data.fill(slice, into: &batch, labels: &labels)
            let logits = model.infer(batch)  // [batch, classes]
            let result = SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels[...], computeGradient: false)
            part.lossSum += result.loss * Double(slice.count)
            part.correct += result.correct
            let classes = logits.count / max(slice.count, 1)
            logits.withUnsafeBufferPointer { values in
                for (row, label) in labels.enumerated() {
                    let scores = UnsafeBufferPointer(rebasing: values[row * classes..<(row + 1) * classes])
                    let probabilities = softmax(scores)
                    let predicted = Int(result.predictions[row])
                    let label = Int(label)
                    // The label's rank: classes scored above it, or equal and listed before it (as argmax breaks ties).
                    let rank = (0..<classes).count(where: { $0 != label && (scores[$0] > scores[label] || (scores[$0] == scores[label] && $0 < label)) })
                    if rank < options.topK { part.topKCorrect += 1 }
                    let index = slice[slice.startIndex + row]
                    part.outcomes.append(Outcome(index: index, file: files?[index], label: label, predicted: predicted,
                                                 probability: probabilities[predicted],
                                                 probabilities: options.keepProbabilities ? probabilities.map(Float.init) : nil))
                }
            }
        }
        part.seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return part
    }

    /// The report of `part`, the measurement of all of `data`.
    static func report(_ part: Part, data: any Dataset, options: EvaluationOptions) -> EvaluationReport {
        let metrics = classificationMetrics(labels: part.outcomes.map(\.label), predicted: part.outcomes.map(\.predicted),
                                            classNames: data.classNames)
        let count = max(data.count, 1)
        return EvaluationReport(loss: part.lossSum / Double(count), accuracy: Double(part.correct) / Double(count),
                                count: data.count, classNames: data.classNames, topK: options.topK,
                                topKAccuracy: options.topK < data.classNames.count ? Double(part.topKCorrect) / Double(count) : nil,
                                confusion: metrics.confusion, perClass: metrics.perClass, macroAverage: metrics.macro,
                                weightedAverage: metrics.weighted, outcomes: part.outcomes, seconds: part.seconds)
    }

    /// The confusion matrix, per-class precision, recall, F1 and support, and their macro and weighted averages for
    /// true classes `labels` and predictions `predicted` (each in `0..<classNames.count`), as scikit-learn's
    /// `classification_report(labels, predicted, zero_division=0)` computes them.
    public static func classificationMetrics(labels: [Int], predicted: [Int], classNames: [String])
        -> (confusion: [[Int]], perClass: [ClassMetrics], macro: Average, weighted: Average) {
        precondition(labels.count == predicted.count)
        let classCount = classNames.count
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classCount), count: classCount)
        for (label, guess) in zip(labels, predicted) { confusion[label][guess] += 1 }
        let perClass = classNames.enumerated().map { label, name -> ClassMetrics in
            let correct = confusion[label][label]
            let support = confusion[label].reduce(0, +)
            let predictedCount = confusion.reduce(0) { $0 + $1[label] }
            let precision = predictedCount > 0 ? Double(correct) / Double(predictedCount) : 0
            let recall = support > 0 ? Double(correct) / Double(support) : 0
            let f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
            return ClassMetrics(name: name, precision: precision, recall: recall, f1: f1, support: support,
                                correct: correct, predicted: predictedCount)
        }
        let present = perClass.filter { $0.support > 0 || $0.predicted > 0 }
        let total = labels.count
        let macroCount = Double(max(present.count, 1))
        let macro = Average(precision: present.reduce(0) { $0 + $1.precision } / macroCount,
                            recall: present.reduce(0) { $0 + $1.recall } / macroCount,
                            f1: present.reduce(0) { $0 + $1.f1 } / macroCount, support: total)
        let weight = { (metric: KeyPath<ClassMetrics, Double>) in
            total > 0 ? perClass.reduce(0) { $0 + $1[keyPath: metric] * Double($1.support) } / Double(total) : 0
        }
        let weighted = Average(precision: weight(\.precision), recall: weight(\.recall), f1: weight(\.f1), support: total)
        return (confusion, perClass, macro, weighted)
    }

    /// The softmax of `scores`, in double precision. [classes]
    static func softmax(_ scores: UnsafeBufferPointer<Float>) -> [Double] {
        let maximum = scores.max() ?? 0
        let exponentials = scores.map { Foundation.exp(Double($0 - maximum)) }
        let total = exponentials.reduce(0, +)
        return exponentials.map { $0 / total }
    }
}

extension EvaluationReport {
    /// The header of ``writePredictions(to:overwrite:inputs:)``'s file.
    public var predictionsHeader: [String] {
        ["file", "true_class", "predicted_class", "probability"] + classNames.map { "probability_" + $0 }
    }

    /// Writes one CSV row per example to `path`, in dataset order: its file (`#index` when the dataset knows none),
    /// true class, predicted class and that prediction's probability, then every class's probability. The report must
    /// have been made with ``EvaluationOptions/keepProbabilities``.
    /// - Parameters:
    ///   - overwrite: replace a file that is not an lrt CSV file (default false: refused).
    ///   - inputs: the command's input files, which `path` may never be.
    /// - Throws: `FileError` naming `path` when it may not be replaced or cannot be written.
    public func writePredictions(to path: String, overwrite: Bool = false, inputs: [String] = []) throws {
        let rows = outcomes.map { outcome -> [String] in
            precondition(outcome.probabilities != nil, "evaluate with keepProbabilities to write predictions")
            return [outcome.file ?? "#\(outcome.index)", classNames[outcome.label], classNames[outcome.predicted],
                    CSVOutput.number(outcome.probability)] + (outcome.probabilities ?? []).map { CSVOutput.number(Double($0)) }
        }
        try CSVOutput.write(path, what: "predictions CSV", header: predictionsHeader, rows: rows, overwrite: overwrite,
                            inputs: inputs)
    }
}
