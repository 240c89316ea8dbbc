import ArgumentParser
import Foundation
import LRTData
import LRTDistributed
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
        try checkCheckpointName(out)
        try optimizer.validateForNewRun()
    }

    /// The library configuration these options describe.
    func configuration(modelConfig: String) throws -> TrainingConfiguration {
        var configuration = TrainingConfiguration(dataRoot: try data ?? Samples.path("digits"), modelConfig: modelConfig)
        configuration.epochs = epochs
        configuration.batchSize = batchSize
        configuration.optimizer = try optimizer.configuration()
        configuration.cosinePeriodSpansRun = optimizer.cosinePeriodSpansRun && optimizer.optimizerConfig == nil
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

    @OptionGroup var storage: StorageFlags

    func validate() throws {
        if let augment { do { _ = try Augmentation(parsing: augment) } catch { throw ValidationError("\(error)") } }
        guard validationSplit >= 0, validationSplit < 1 else {
            throw ValidationError("--validation-split must be in [0, 1), e.g. 0.1 (or 0 for none), got \(validationSplit)")
        }
    }

    /// The library's data options; reads the `--class-weight` file.
    func options() throws -> DataOptions {
        var options = DataOptions()
        options.normalize = normalize == .meanStd
        options.memoryBudget = try storage.memoryBudgetBytes()
        options.cachePath = storage.cache
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

/// Where a run keeps its decoded images (`--memory-budget`, `--cache`): options of `train` and `finetune` (through
/// ``DataFlags``) and of `resume`.
struct StorageFlags: ParsableArguments {
    @Option(help: ArgumentHelp("Memory the decoded images may take, e.g. 2G or 512M (default: half of RAM). A larger dataset needs --cache and is streamed from it.", valueName: "size"))
    var memoryBudget: String?

    @Option(help: ArgumentHelp("An HDF5 file caching the decoded images (created, reused while the images are unchanged, rebuilt when they change; never replacing a file that is not an lrt cache). Images over --memory-budget are streamed from it in chunk-shuffled order.", valueName: "file.h5"))
    var cache: String?

    func validate() throws {
        _ = try memoryBudgetBytes()
        if let cache, cache.isEmpty { throw ValidationError("--cache needs a file name, e.g. --cache images.h5") }
    }

    /// `--memory-budget` in bytes (default: half of the machine's memory).
    func memoryBudgetBytes() throws -> Int {
        guard let memoryBudget else { return MemoryBudget.defaultBytes }
        do { return try MemoryBudget.parse(memoryBudget) } catch { throw ValidationError("\(error)") }
    }
}

/// Progress, telemetry, logging, callback and MPI options of every command that trains. Each optional one given is
/// stored in the checkpoint's plan; `lrt resume` takes those not given from the plan.
struct MonitoringOptions: ParsableArguments {
    @Option(help: "Record each layer's gradient, weight and update norms and rate multiplier, the loss and the learning rate every N steps (0: off; default 50, or the resumed run's).")
    var logEvery: Int?

    @Option(help: ArgumentHelp("Log every epoch's metrics and every telemetry record: FILE.csv (Keras CSVLogger columns, epoch from 0; per-step rows in FILE.steps.csv) or FILE.jsonl (JSON lines).", valueName: "file"))
    var log: String?

    @Option(help: ArgumentHelp("The same as --log FILE.jsonl.", valueName: "file"))
    var metricsLog: String?

    @Option(help: ArgumentHelp("Write TensorBoard event files into DIR/train and DIR/validation (Keras's layout).", valueName: "dir"))
    var tensorboard: String?

    @Option(help: ArgumentHelp("Stop when --monitor has not improved for N epochs.", valueName: "patience"))
    var earlyStopping: Int?

    @Option(help: ArgumentHelp("The metric --early-stopping and --keep-best watch: val_loss (default), val_accuracy, loss or accuracy; accuracy is better larger, loss smaller.", valueName: "metric"))
    var monitor: String?

    @Option(help: ArgumentHelp("The smallest change of --monitor that counts as an improvement for --early-stopping (default 0).", valueName: "delta"))
    var minDelta: Double?

    @Option(help: ArgumentHelp("Also keep the best checkpoint by --monitor in this file, replaced after each better epoch.", valueName: "file.h5"))
    var keepBest: String?

    @Option(help: ArgumentHelp("Also save the checkpoint every N steps within an epoch (default: only at epoch ends).", valueName: "steps"))
    var saveEvery: Int?

    @Flag(help: "Print only errors and the final summary line.")
    var quiet = false

    @Flag(help: "Gzip the weights in the checkpoint (h5py and Keras read it).")
    var compress = false

    @Flag(help: "Replace the --out file even when it is not an lrt or Keras checkpoint (it may never be an input).")
    var overwrite = false

    @Flag(inversion: .prefixedNo, help: "Under mpirun: BatchNormalization normalizes by the statistics of the global batch, added up over the ranks, instead of each rank's own (default: off, or the resumed run's; nothing changes on one process).")
    var syncBatchNorm: Bool?

    @Option(help: ArgumentHelp("Under mpirun: seconds a collective (the gradient allreduce) may wait for the other ranks before the job stops, naming the rank and the step (0: wait forever).", valueName: "seconds"))
    var collectiveTimeout = 600.0

    func validate() throws {
        if let logEvery, logEvery < 0 { throw ValidationError("--log-every must be 0 (off) or a positive number of steps, got \(logEvery)") }
        if log != nil, metricsLog != nil { throw ValidationError("--metrics-log is another name for --log FILE.jsonl; give one of them") }
        if let log {
            let pathExtension = URL(fileURLWithPath: log).pathExtension.lowercased()
            guard pathExtension == "csv" || pathExtension == "jsonl" else {
                throw ValidationError("--log \(log): name a .csv file (Keras CSVLogger rows) or a .jsonl file (JSON lines)")
            }
        }
        if let earlyStopping, earlyStopping < 1 {
            throw ValidationError("--early-stopping must be a patience of at least 1 epoch, got \(earlyStopping)")
        }
        if let minDelta, !(minDelta >= 0 && minDelta.isFinite) { throw ValidationError("--min-delta must be 0 or more, e.g. 0.001, got \(minDelta)") }
        if let saveEvery, saveEvery < 1 { throw ValidationError("--save-every must be a positive number of steps, got \(saveEvery)") }
        if let monitor { try checkSettings { _ = try MonitoredMetric(monitor) } }
        if let keepBest, keepBest.lowercased().hasSuffix(".keras") {
            throw ValidationError("--keep-best \(keepBest): lrt writes Keras's HDF5 format; name a .h5 file")
        }
        guard collectiveTimeout.isFinite, collectiveTimeout >= 0 else {
            throw ValidationError("--collective-timeout must be 0 (wait forever) or a number of seconds, got \(collectiveTimeout)")
        }
    }

    /// The run hooks: Ctrl-C stops after the current batch (saving first), plus these options.
    var hooks: Runs.Hooks {
        var hooks = Runs.Hooks()
        hooks.shouldStop = { Interrupt.requested }
        hooks.progressStyle = ProgressStyle.automatic
        hooks.quiet = quiet
        hooks.logEvery = logEvery
        hooks.logPath = log ?? metricsLog
        hooks.tensorBoardPath = tensorboard
        hooks.earlyStoppingPatience = earlyStopping
        hooks.monitor = monitor
        hooks.minimumDelta = minDelta
        hooks.keepBestPath = keepBest
        hooks.saveEvery = saveEvery
        hooks.synchronizeBatchNormalization = syncBatchNorm
        hooks.compressWeights = compress
        hooks.overwrite = overwrite
        hooks.communicator = World.communicator
        hooks.collectiveTimeout = collectiveTimeout
        return hooks
    }
}

/// The bundled sample dataset (`Samples/`), found from the working directory or beside the executable's
/// real path (a symbolic link to it in a `bin/` folder finds the install it points to); the sample model is
/// built in (``ModelArgument``).
enum Samples {
    /// `Samples/<name>` (a folder or file), from the working directory, or the executable's folder and up to
    /// five folders above it (`.build/release/lrt` in the repository, `PREFIX/bin/lrt` beside `PREFIX/Samples`,
    /// `PREFIX/share/lrt/Samples`).
    static func path(_ name: String) throws -> String {
        var bases = [FileManager.default.currentDirectoryPath]
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = executable.deletingLastPathComponent()
        for _ in 0..<6 {
            bases.append(directory.path)
            directory.deleteLastPathComponent()
        }
        let candidates = bases.flatMap { [$0 + "/Samples/" + name, $0 + "/share/lrt/Samples/" + name] }
        for path in candidates where FileManager.default.fileExists(atPath: path) { return path }
        throw CommandError.missingSamples(name: name, executable: executable.path)
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
        case .logEvery: return "--log-every"
        case .saveEvery: return "--save-every"
        case .earlyStopping: return "--early-stopping"
        case .minimumDelta: return "--min-delta"
        case .monitor: return "--monitor"
        case .log: return "--log"
        case .keepBest: return "--keep-best"
        case .syncBatchNorm: return "--sync-batch-norm"
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
    /// No `--data` and no bundled `Samples/<name>` in the working directory or beside `executable`.
    case missingSamples(name: String, executable: String)

    var description: String {
        switch self {
        case .unreadable(let path, let what, let reason): return "cannot read \(what) \(path): \(reason)"
        case .invalidFile(let path, let what, let reason): return "\(what) \(path): \(reason)"
        case .invalidOption(let message): return message
        case .missingSamples(let name, let executable):
            return "no --data given and the sample dataset Samples/\(name) was not found in the working directory or beside the lrt executable \(executable); pass --data DIR (a folder of class folders of images)"
        }
    }
}
