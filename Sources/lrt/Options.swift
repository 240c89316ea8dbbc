import ArgumentParser
import Foundation
import LRTOptimizers
import LRTTraining

extension LayerRates: ExpressibleByArgument {}

/// Options of every command that trains.
struct TrainingOptions: ParsableArguments {
    @Option(help: "Dataset folder with train/ and test/ subfolders of <class>/*.png (default: the bundled sample, Samples/digits).")
    var data: String?

    @Option(help: "Total number of epochs to train.")
    var epochs = 10

    @Option(help: "Mini-batch size.")
    var batchSize = 32

    @Option(parsing: .unconditional, help: "Global learning rate t (the paper's rule scales it per layer).")
    var learningRate = 0.01

    @Option(parsing: .unconditional, help: "SGD momentum in [0, 1); 0 for plain SGD.")
    var momentum = 0.9

    @Flag(help: "Use Nesterov momentum.")
    var nesterov = false

    @Option(help: "Layer-wise rate rule: paper (t·(1 + log(1 + 1/‖g_l‖)) per layer) or off.")
    var layerRates = LayerRates.paper

    @Option(help: "Seed of the run's random generator (weights, shuffling).")
    var seed: UInt64 = 0

    @Option(help: "Checkpoint file to write.")
    var out = "lrt-checkpoint.h5"

    func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        guard learningRate.isFinite, learningRate > 0 else {
            throw ValidationError("--learning-rate must be a finite number above 0, got \(learningRate)")
        }
        guard momentum.isFinite, momentum >= 0, momentum < 1 else {
            throw ValidationError("--momentum must be in [0, 1), got \(momentum)")
        }
        guard !nesterov || momentum > 0 else { throw ValidationError("--nesterov needs --momentum above 0") }
    }

    /// The library configuration these options describe.
    func configuration(modelConfig: String) throws -> TrainingConfiguration {
        var configuration = TrainingConfiguration(dataRoot: try data ?? Samples.folder("digits"), modelConfig: modelConfig)
        configuration.epochs = epochs
        configuration.batchSize = batchSize
        configuration.learningRate = learningRate
        configuration.momentum = momentum
        configuration.nesterov = nesterov
        configuration.layerRates = layerRates
        configuration.seed = seed
        configuration.outputPath = out
        return configuration
    }
}

/// The bundled samples (`Samples/`), found from the working directory or beside the executable.
enum Samples {
    /// The sample MLP for the 8×8 digits, also in `Samples/models/digits-mlp.json`.
    static let digitsModel = """
        {"class_name": "Sequential", "config": {"name": "digits_mlp", "layers": [
          {"class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 1]}},
          {"class_name": "Flatten", "config": {}},
          {"class_name": "Dense", "config": {"units": 64, "activation": "relu"}},
          {"class_name": "Dense", "config": {"units": 10, "activation": "softmax"}}
        ]}}

        """

    static func folder(_ name: String) throws -> String {
        var candidates = [FileManager.default.currentDirectoryPath]
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(directory.path)
            directory.deleteLastPathComponent()
        }
        for base in candidates {
            let path = base + "/Samples/" + name
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        throw CommandError("no --data given and the sample dataset Samples/\(name) was not found; run from the lrt repository or pass --data DIR")
    }
}

/// Ctrl-C asks the running trainer to save and stop after the current batch; a second one quits at once.
enum Interrupt {
    nonisolated(unsafe) static var requested = false

    static func install() {
        signal(SIGINT) { _ in
            if Interrupt.requested { _exit(130) }
            Interrupt.requested = true
        }
    }
}

/// A failure found by the command line itself (not a usage mistake), printed as one line.
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
