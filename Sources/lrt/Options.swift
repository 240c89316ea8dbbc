import ArgumentParser
import Foundation
import LRTData
import LRTLayers
import LRTOptimizers
import LRTTraining

extension LayerRates: ExpressibleByArgument {}
extension ColorMode: ExpressibleByArgument {}
extension ResizeMode: ExpressibleByArgument {}
extension DataSplit: ExpressibleByArgument {}

/// Options of every command that trains.
struct TrainingOptions: ParsableArguments {
    @Option(help: "Dataset folder: DIR/<class>/**/*.{png,jpg,jpeg}, or DIR/train/<class>/… with optional DIR/val/ (or validation/) and DIR/test/ (default: the bundled 8x8 digits, Samples/digits).")
    var data: String?

    @OptionGroup var dataOptions: DataFlags

    @Option(help: "Total number of epochs to train.")
    var epochs = 20

    @Option(help: "Mini-batch size.")
    var batchSize = 32

    @Option(parsing: .unconditional, help: ArgumentHelp("Seed of the run's random generator (weights, shuffling): a whole number from 0 to \(UInt64.max).", valueName: "seed"),
            transform: parseSeed)
    var seed: UInt64 = 0

    @Option(help: "Checkpoint file to write.")
    var out = "lrt-checkpoint.h5"

    @OptionGroup var optimizer: OptimizerOptions

    @OptionGroup var monitoring: MonitoringOptions

    func validate() throws {
        try checkSettings {
            try RunSetting.check(epochs: epochs)
            try RunSetting.check(batchSize: batchSize)
        }
        try optimizer.validateForNewRun()
    }

    /// The library configuration these options describe.
    func configuration(modelConfig: String) throws -> TrainingConfiguration {
        var configuration = TrainingConfiguration(dataRoot: try data ?? Samples.path("digits"), modelConfig: modelConfig)
        configuration.epochs = epochs
        configuration.batchSize = batchSize
        configuration.optimizer = try optimizer.configuration()
        configuration.seed = seed
        configuration.outputPath = out
        configuration.data = try dataOptions.options()
        return configuration
    }
}

/// `--image-size HEIGHT,WIDTH`.
struct ImageSize: ExpressibleByArgument {
    let height: Int, width: Int

    init?(argument: String) {
        let parts = argument.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let height = parts[0], let width = parts[1], (1...65536).contains(height), (1...65536).contains(width)
        else { return nil }
        (self.height, self.width) = (height, width)
    }
}

/// How a training run reads its data.
struct DataFlags: ParsableArguments {
    @Option(help: ArgumentHelp("Fraction of each class held out for validation (stratified, seeded by --seed) when DATA has no val/ folder; 0 trains on everything and reports no val_ metrics.", valueName: "fraction"))
    var validationSplit = 0.1

    @Option(help: ArgumentHelp("Read images as grayscale, rgb or rgba (default: the model's input channels).", valueName: "mode"))
    var colorMode: ColorMode?

    @Option(help: ArgumentHelp("The input size of a built-in architecture (--model NAME), e.g. 32,32 (default: the first image's size).", valueName: "height,width"))
    var imageSize: ImageSize?

    @Option(help: ArgumentHelp("Images of another size than the model's input: stretch (resize), crop or pad to its aspect ratio first, or error.", valueName: "mode"))
    var resize = ResizeMode.stretch

    @Option(help: ArgumentHelp("An image that cannot be read: error (stop before training, naming it) or skip (leave it out, warn once and record it in the checkpoint).", valueName: "error|skip"))
    var onBadImage = BadImagePolicy.error

    enum BadImagePolicy: String, ExpressibleByArgument, CaseIterable { case error, skip }

    @Option(help: ArgumentHelp("Random changes to each training image, from their own seeded stream: a comma-separated list of flip, crop (pad 4, crop back), translate (±10%), rotate (±15°), brightness (±0.2), contrast (×0.8–1.2), cutout (half-side square). Default: none.", valueName: "list"))
    var augment: String?

    @Option(help: ArgumentHelp("Input scaling: none (pixels in [0, 1]) or mean-std (then standardized per channel by the training split's mean and standard deviation, saved in the checkpoint and applied by eval, predict, finetune and resume).", valueName: "none|mean-std"))
    var normalize = NormalizeMode.none

    enum NormalizeMode: String, ExpressibleByArgument, CaseIterable { case none, meanStd = "mean-std" }

    @Option(help: ArgumentHelp("Weigh each class in the training loss as Keras's class_weight: balanced (n_samples / (n_classes · count), from the training split) or a JSON file {\"cat\": 2.0, …} by class name (others weigh 1). Default: none.", valueName: "balanced|file"))
    var classWeight: String?

    @Option(help: ArgumentHelp("Memory the decoded images may take, e.g. 2G or 512M (default: half of RAM). A larger dataset needs --cache and is streamed from it.", valueName: "size"))
    var memoryBudget: String?

    @Option(help: ArgumentHelp("An HDF5 file caching the decoded images (created, reused while the images are unchanged, rebuilt when they change; never replacing a file that is not an lrt cache). Images over --memory-budget are streamed from it in chunk-shuffled order.", valueName: "file.h5"))
    var cache: String?

    func validate() throws {
        if let augment { do { _ = try Augmentation(parsing: augment) } catch { throw ValidationError("\(error)") } }
        if let memoryBudget { do { _ = try MemoryBudget.parse(memoryBudget) } catch { throw ValidationError("\(error)") } }
        if let cache, cache.isEmpty { throw ValidationError("--cache needs a file name, e.g. --cache images.h5") }
        guard validationSplit >= 0, validationSplit < 1 else {
            throw ValidationError("--validation-split must be in [0, 1), e.g. 0.1 (or 0 for none), got \(validationSplit)")
        }
    }

    /// The library's data options; reads the `--class-weight` file.
    func options() throws -> DataOptions {
        var options = DataOptions()
        options.normalize = normalize == .meanStd
        options.memoryBudget = try memoryBudget.map { text in
            do { return try MemoryBudget.parse(text) } catch { throw ValidationError("\(error)") }
        } ?? MemoryBudget.defaultBytes
        options.cachePath = cache
        if let classWeight { options.classWeighting = try Self.classWeighting(classWeight) }
        options.validationSplit = validationSplit
        options.colorMode = colorMode
        options.resizeMode = resize
        options.skipBadImages = onBadImage == .skip
        options.augmentation = augment.flatMap { try? Augmentation(parsing: $0) }
        return options
    }

    /// `balanced`, or the weights of a JSON file `{"class name": weight, …}`.
    static func classWeighting(_ argument: String) throws -> ClassWeighting {
        if argument == "balanced" { return .balanced }
        let text = try readConfigFile(argument, what: "class weight file")
        let json: JSONValue
        do { json = try JSONValue.parse(text) } catch {
            throw CommandError.invalidFile(path: argument, what: "class weight file", reason: "\(error); write an object such as {\"cat\": 2.0, \"dog\": 1.0}")
        }
        guard case .object(let members) = json else {
            throw CommandError.invalidFile(path: argument, what: "class weight file", reason: "is not a JSON object; write one such as {\"cat\": 2.0, \"dog\": 1.0}")
        }
        var table: [String: Double] = [:]
        for (name, value) in members {
            guard let weight = value.numberValue, weight.isFinite, weight >= 0 else {
                throw CommandError.invalidFile(path: argument, what: "class weight file", reason: "the weight of '\(name)' is \(value.serialized), not a finite, non-negative number")
            }
            guard table.updateValue(weight, forKey: name) == nil else {
                throw CommandError.invalidFile(path: argument, what: "class weight file", reason: "names '\(name)' twice")
            }
        }
        return .named(table, source: argument)
    }
}

/// Telemetry and logging options of every command that trains.
struct MonitoringOptions: ParsableArguments {
    @Option(help: "Record each layer's gradient, weight and update norms and rate multiplier every N steps (0: off).")
    var logEvery = 50

    @Option(help: ArgumentHelp("Append epoch metrics and telemetry records to this JSON-lines file.", valueName: "file"))
    var metricsLog: String?

    @Flag(help: "Gzip the weights in the checkpoint (h5py and Keras read it).")
    var compress = false

    @Flag(help: "Replace the --out file even when it is not an lrt or Keras checkpoint (it may never be an input).")
    var overwrite = false

    func validate() throws {
        guard logEvery >= 0 else { throw ValidationError("--log-every must be 0 (off) or a positive number of steps, got \(logEvery)") }
    }

    /// The run hooks: Ctrl-C stops after the current batch (saving first), plus these options.
    var hooks: Runs.Hooks {
        var hooks = Runs.Hooks()
        hooks.shouldStop = { Interrupt.requested }
        hooks.logEvery = logEvery
        hooks.metricsLogPath = metricsLog
        hooks.compressWeights = compress
        hooks.overwrite = overwrite
        return hooks
    }
}

/// The bundled samples (`Samples/`), found from the working directory or beside the executable.
enum Samples {
    /// `Samples/<name>` (a folder or file), from the working directory or beside the executable.
    static func path(_ name: String) throws -> String {
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
        throw CommandError.missingSamples(name: name)
    }
}

/// `--seed`: a whole number from 0 to 2^64-1. Parsed unconditionally, so `--seed -1` is
/// refused by name instead of being taken for a flag ("Missing value").
func parseSeed(_ text: String) throws -> UInt64 {
    guard let seed = UInt64(text) else {
        throw ValidationError("--seed must be a whole number from 0 to \(UInt64.max), got '\(text)'")
    }
    return seed
}

/// Ctrl-C or SIGTERM (`kill`, `docker stop`) asks the running trainer to save and stop after
/// the current batch; a second one quits at once.
enum Interrupt {
    nonisolated(unsafe) static var requested = false
    /// The signal that asked to stop (SIGINT or SIGTERM), for the exit status 128 + signal.
    nonisolated(unsafe) static var received: Int32 = SIGINT

    static func install() {
        for number in [SIGINT, SIGTERM] {
            signal(number) { received in
                if Interrupt.requested { _exit(128 + received) }
                Interrupt.received = received
                Interrupt.requested = true
            }
        }
    }
}

extension RunSetting {
    /// The flag that sets it.
    var flag: String {
        switch self {
        case .epochs: return "--epochs"
        case .batchSize: return "--batch-size"
        case .augmentation: return "--augment"
        case .topK: return "--top-k"
        }
    }
}

/// Runs `body` (the library's checks of option values, or a run that makes them), turning a bad setting into a
/// usage error that names its flag.
func checkSettings<Result>(_ body: () throws -> Result) throws -> Result {
    do { return try body() } catch TrainingError.invalidSetting(let setting, let value, let hint) {
        throw ValidationError("invalid \(setting.flag) \(value): \(hint)")
    }
}

/// A failure found by the command line itself (not a usage mistake), printed as one line;
/// each case carries the file or option it names.
enum CommandError: Error, CustomStringConvertible {
    /// A file named on the command line that cannot be read: `cannot read <what> <path>: <reason>`.
    case unreadable(path: String, what: String, reason: String)
    /// A file that was read but cannot be used: `<what> <path>: <reason>`.
    case invalidFile(path: String, what: String, reason: String)
    /// Option values that cannot be used together or with the checkpoint, named by their flags.
    case invalidOption(String)
    /// No `--data` and no bundled `Samples/<name>`.
    case missingSamples(name: String)

    var description: String {
        switch self {
        case .unreadable(let path, let what, let reason): return "cannot read \(what) \(path): \(reason)"
        case .invalidFile(let path, let what, let reason): return "\(what) \(path): \(reason)"
        case .invalidOption(let message): return message
        case .missingSamples(let name):
            return "no --data given and the sample dataset Samples/\(name) was not found; run from the lrt repository or pass --data DIR"
        }
    }
}
