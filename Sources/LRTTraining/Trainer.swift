import Foundation
import LRTData
import LRTDistributed
import LRTFormat
import LRTLayers
import LRTOptimizers
import LRTTensor

/// A run that cannot start or go on, with the value or file named and a fix; each case carries
/// the values its one-line ``description`` names, and errors from below are carried unchanged.
public indirect enum TrainingError: Error, CustomStringConvertible {
    /// A run setting out of range: `invalid <setting> <value>: <hint>`.
    case invalidSetting(RunSetting, value: String, hint: String)
    /// The optimizer's configuration, state or schedule.
    case optimizer(OptimizerError)
    /// The model config.
    case model(ModelConfigError)
    /// A built-in architecture that is unknown (`--model NAME`) or cannot take the data; `data`
    /// describes the dataset's images when they are the reason.
    case architecture(ArchitectureError, data: String?)
    /// A data folder or image that does not fit the run.
    case data(path: String, problem: String)
    /// The model and the data do not fit each other.
    case mismatch(String)
    /// The loss or the weights stopped being finite; nothing was saved over the last checkpoint.
    case diverged(String)
    /// The file cannot be continued or fine-tuned as asked.
    case cannotContinue(path: String, problem: String)
    /// A file the run writes (the metrics log) cannot be written.
    case cannotWrite(path: String, problem: String)
    /// The run needs more memory than the machine or its limits allow: the estimate, and a fix.
    case insufficientMemory(String)
    /// A collective between the ranks of an MPI run failed or timed out.
    case communication(CommunicatorError)
    /// The examples of a batch could not be read while the run went on (an image cache truncated, or its disk
    /// failing, after it was opened).
    case unreadableData(DataError)
    /// A run that stopped on `error` after saving `checkpoint` at `epoch`.
    case stopped(TrainingError, checkpoint: String, epoch: Int)

    public var description: String {
        switch self {
        case .invalidSetting(let setting, let value, let hint): return "invalid \(setting.rawValue) \(value): \(hint)"
        case .optimizer(let error): return error.description
        case .model(let error): return error.description
        case .architecture(let error, let data): return data.map { "\(error) (\($0))" } ?? "--model: \(error)"
        case .data(_, let problem), .mismatch(let problem), .diverged(let problem), .insufficientMemory(let problem): return problem
        case .cannotContinue(_, let problem), .cannotWrite(_, let problem): return problem
        case .communication(let error): return error.description
        case .unreadableData(let error): return error.description
        case .stopped(let error, let checkpoint, let epoch):
            let next: String
            if case .unreadableData = error { next = ": continue it with `lrt resume \(checkpoint)`" } else { next = "" }
            return "\(error.description); \(checkpoint) still holds epoch \(epoch), intact\(next)"
        }
    }
}

/// The training spine: mini-batch SGD over a dataset, validation after each epoch, and callbacks for
/// everything else.
public final class Trainer {
    public let model: any Model
    public let optimizer: Optimizer
    public let trainData: any Dataset
    /// Evaluated after every epoch (`val_…` metrics); nil for none.
    public let validationData: (any Dataset)?
    /// Progress, saved with every checkpoint; resuming restores it exactly.
    public internal(set) var state: TrainingState
    /// The data-order stream: each epoch's permutation.
    public private(set) var orderGenerator: SeededGenerator
    /// The augmentation stream, handed to ``Dataset/fill(_:into:labels:generator:)``.
    public private(set) var augmentationGenerator: SeededGenerator
    /// The dropout stream: one draw per step seeds the step's ``ExampleStreams``, from which Dropout draws each
    /// example's mask (the same on any number of ranks).
    public private(set) var dropoutGenerator: SeededGenerator
    /// Called in order at each hook; the run's built-in callbacks (progress, telemetry, logs, checkpoints)
    /// are entries of this list like any other.
    public var callbacks: [TrainingCallback] = []
    /// The ranks of the run and the gradient averaging between `backward` and the optimizer.
    public let parallel: DataParallel
    /// Set by a callback (or a signal) to stop after the current batch: an interruption, saved mid-epoch.
    public var stopRequested = false
    /// Set by a callback at the end of an epoch to end the run there (Keras's `stop_training`), as
    /// early stopping does: the run is finished, not interrupted.
    public var stopTraining = false
    /// The mean loss and accuracy of the current epoch so far.
    public var epochLoss: Double { state.epochSeen > 0 ? state.epochLossSum / Double(state.epochSeen) : 0 }
    public var epochAccuracy: Double { state.epochSeen > 0 ? Double(state.epochCorrect) / Double(state.epochSeen) : 0 }
    /// Seconds spent in the current epoch's training steps.
    public private(set) var epochSeconds = 0.0
    /// The last step's mini-batch: its mean loss, correct predictions and size (0 before the first step).
    public private(set) var lastBatchLoss = Double.nan
    public private(set) var lastBatchCorrect = 0
    public private(set) var lastBatchSize = 0
    /// The global learning rate of the last step.
    public var lastLearningRate: Double { optimizer.lastRate }

    private var batch = Tensor(shape: [0])
    private var labels: [Int32] = []
    private lazy var loader = BatchPrefetcher(trainData)
    /// Seconds the steps waited for training batches, and seconds spent filling them (overlapping the steps).
    public var loaderSeconds: (waited: Double, filled: Double) { (loader.waitSeconds, loader.fillSeconds) }

    /// A trainer continuing from `state`, whose generator states start the three streams.
    public init(model: any Model, optimizer: Optimizer, trainData: any Dataset, validationData: (any Dataset)?,
                state: TrainingState, communicator: any Communicator = SingleProcessCommunicator()) {
        self.model = model
        parallel = DataParallel(communicator: communicator)
        parallel.synchronizesBatchNormalization = state.plan?.synchronizeBatchNormalization ?? false
        self.optimizer = optimizer
        self.trainData = trainData
        self.validationData = validationData
        self.state = state
        orderGenerator = SeededGenerator(seed: state.generatorState)
        augmentationGenerator = SeededGenerator(seed: state.augmentationGeneratorState)
        dropoutGenerator = SeededGenerator(seed: state.dropoutGeneratorState)
    }

    /// Records the test split's metrics, evaluated once after training, in the state saved next.
    public func recordTest(_ metrics: TrainingState.TestMetrics) { state.test = metrics }

    /// The state to save now, with the generators' current positions.
    public var checkpointState: TrainingState {
        var current = state
        current.generatorState = orderGenerator.state
        current.augmentationGeneratorState = augmentationGenerator.state
        current.dropoutGeneratorState = dropoutGenerator.state
        current.ranks = parallel.communicator.size
        return current
    }

    /// Trains until `epochs` epochs are complete in total (Keras's `epochs` with
    /// `initial_epoch`), or until a stop is requested; calls `onTrainBegin` first and `onTrainEnd`
    /// when the loop ends without an error.
    /// - Throws: ``TrainingError`` when the loss stops being finite; nothing is saved then.
    public func fit(epochs: Int) throws {
        try parallel.synchronize(model: model, state: state, trainCount: trainData.count)
        for callback in callbacks { try callback.onTrainBegin(self) }
        while state.epoch < epochs && !stopRequested && !stopTraining {
            if state.epochOrder.isEmpty {
                state.epochOrder = trainData.epochOrder(using: &orderGenerator)
                state.position = 0
                epochSeconds = 0
                for callback in callbacks { try callback.onEpochBegin(self) }
            }
            while state.position < state.epochOrder.count && !stopRequested {
                for callback in callbacks { try callback.onBatchBegin(self) }
                try trainStep()
                for callback in callbacks { try callback.onBatchEnd(self) }
            }
            if state.position == state.epochOrder.count { try finishEpoch() }
        }
        for callback in callbacks { try callback.onTrainEnd(self) }
    }

    /// Appends the optimizer's last per-layer records, with the last batch's loss and the global rate,
    /// to ``state``'s telemetry (what ``TelemetryRecorder`` calls every `--log-every` steps).
    public func recordTelemetry() {
        let records = optimizer.lastTelemetry
        state.telemetry.append(step: state.globalStep, names: records.map(\.name),
                               gradientNorms: records.map(\.gradientNorm), weightNorms: records.map(\.weightNorm),
                               updateNorms: records.map(\.updateNorm), multipliers: records.map(\.effectiveMultiplier),
                               loss: lastBatchLoss, learningRate: optimizer.lastRate)
    }

    private func trainStep() throws {
        let started = DispatchTime.now().uptimeNanoseconds
        let end = min(state.position + state.batchSize, state.epochOrder.count)
        // Each rank fills its shard of the global batch (with one rank, the whole batch) and prepares its shard of the next.
        let shard = parallel.shard(state.position..<end)
        let next = parallel.shard(end..<min(end + state.batchSize, state.epochOrder.count))
        var augmentation = parallel.isParallel ? parallel.rankGenerator(&augmentationGenerator, stream: "augmentation") : augmentationGenerator
        // Dropout draws per example of the global batch, so every rank count draws the masks one process draws.
        let streams = ExampleStreams(step: dropoutGenerator.next(), firstExample: shard.lowerBound - state.position)
        var context = ForwardContext(training: true, generator: SeededGenerator(seed: streams.step))
        context.exampleStreams = streams
        context.batchStatistics = parallel.batchStatistics
        if parallel.isParallel { parallel.communicator.activity = "step \(state.globalStep + 1) (epoch \(state.epoch + 1))" }
        model.zeroGradients()
        var totals: DataParallel.StepTotals = (0, 0, 0)
        if !shard.isEmpty {  // a rank gets no examples when the batch has fewer than the ranks
            do {
                try loader.fill(state.epochOrder[shard], next: state.epochOrder[next], into: &batch, labels: &labels,
                                generator: &augmentation)
            } catch {
                throw TrainingError.unreadableData(error)
            }
        }
        do {
            if !shard.isEmpty {
                let logits = model.forward(batch, context: &context)
                try parallel.checkBatchStatistics()
                let result = SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels[...],
                                                          sampleWeights: state.classWeights.isEmpty ? nil : labels.map { state.classWeights[Int($0)] })
                totals = (result.loss * Double(labels.count), result.correct, labels.count)
                // Synchronized BatchNormalization's backward is a collective: every rank takes part.
                if result.loss.isFinite || context.batchStatistics != nil { model.backward(result.gradient) }
                try parallel.checkBatchStatistics()
            }
            if !parallel.isParallel { augmentationGenerator = augmentation }
            try parallel.reduce(model: model, totals: &totals, globalCount: end - state.position)
        } catch {
            throw TrainingError.communication(error)
        }
        let loss = totals.lossSum / Double(max(totals.count, 1))  // the global batch's mean loss
        guard loss.isFinite else { throw nonFiniteLossError(loss) }
        optimizer.apply(to: model.parameterGroups, epoch: state.epoch)
        if let bad = optimizer.nonFiniteGradient { throw nonFiniteGradientError(bad) }
        lastBatchLoss = loss
        lastBatchCorrect = totals.correct
        lastBatchSize = totals.count
        state.epochLossSum += totals.lossSum
        state.epochCorrect += totals.correct
        state.epochSeen += totals.count
        state.position = end
        state.globalStep += 1
        epochSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    }

    /// The run stops: the loss is `loss`; names the layer whose weights the last step moved most.
    private func nonFiniteLossError(_ loss: Double) -> TrainingError {
        let rate = optimizer.schedule.rate(step: optimizer.step, epoch: state.epoch)
        // The update norms of a diverging step can overflow to inf themselves: the largest, inf included.
        let moved = optimizer.lastTelemetry.filter { !$0.updateNorm.isNaN }.max { $0.updateNorm < $1.updateNorm }
        let culprit = moved.map {
            "; the last step moved layer '\($0.layerName)' most (update norm \(String(format: "%.3g", $0.updateNorm)) against weight norm \(String(format: "%.3g", $0.weightNorm)))"
        } ?? ""
        return .diverged("the loss became \(loss) at epoch \(state.epoch + 1), step \(state.globalStep + 1) (learning rate \(rate))\(culprit); training stopped without saving this state: lower --learning-rate, e.g. \(String(format: "%g", rate / 10))")
    }

    /// The run stops: the gradient of `bad` is not finite, and the optimizer changed nothing.
    private func nonFiniteGradientError(_ bad: (layerName: String, path: String)) -> TrainingError {
        let rate = optimizer.schedule.rate(step: optimizer.step, epoch: state.epoch)
        return .diverged("the gradient of layer '\(bad.layerName)' (\(bad.path)) became non-finite at epoch \(state.epoch + 1), step \(state.globalStep + 1), the first layer in backpropagation order to do so (learning rate \(rate)); training stopped without saving this state: lower --learning-rate, e.g. \(String(format: "%g", rate / 10)), or add --clip-norm 1")
    }

    private func finishEpoch() throws {
        parallel.communicator.activity = "validation after epoch \(state.epoch + 1)"
        var validation: (loss: Double, accuracy: Double, count: Int)?
        if let validationData { validation = try parallel.evaluate(model, on: validationData) }
        guard validation?.loss.isFinite ?? true, model.weights.allSatisfy(\.value.isFinite) else {
            throw TrainingError.diverged("the weights diverged in epoch \(state.epoch + 1) (validation loss \(validation?.loss ?? .nan)); training stopped without saving this epoch: lower --learning-rate")
        }
        var metrics: [(name: String, value: Double)] = [("loss", epochLoss), ("accuracy", epochAccuracy)]
        if let validation { metrics += [("val_loss", validation.loss), ("val_accuracy", validation.accuracy)] }
        metrics += [
            ("learning_rate", optimizer.lastRate),
            ("seconds", epochSeconds), ("images_per_second", Double(state.epochSeen) / max(epochSeconds, 1e-9)),
        ]
        state.history.append(metrics)
        do { try optimizer.onEpochEnd(metrics: metrics) } catch let error as OptimizerError { throw TrainingError.optimizer(error) }
        state.epoch += 1
        state.epochOrder = []
        state.position = 0
        state.epochLossSum = 0
        state.epochCorrect = 0
        state.epochSeen = 0
        for callback in callbacks { try callback.onEpochEnd(self, metrics: metrics) }
    }
}
