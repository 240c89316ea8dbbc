import ArgumentParser
import Foundation
import LRTData
import LRTDistributed
import LRTHDF5
import LRTLayers
import LRTTensor
import LRTTraining

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a new model and write its checkpoint.",
        discussion: "With no arguments: the sample CNN (Samples/models/digits-cnn.json, built into lrt) on the bundled digits (Samples/digits, beside the lrt executable or in the working directory), paper SGD, into lrt-checkpoint.h5.")

    @Option(help: "Keras model config (a JSON file, as model.to_json() writes), or a built-in architecture sized for the data (`lrt models` lists them); default: the sample CNN digits-cnn sized for the data, which on the bundled 8x8 digits is Samples/models/digits-cnn.json.")
    var model: String?

    @OptionGroup var options: TrainingOptions

    func run() throws {
        var configuration = try options.configuration(modelConfig: "")
        configuration.modelConfig = try ModelArgument.config(model, dataRoot: configuration.dataRoot,
                                                             imageSize: options.dataOptions.imageSize,
                                                             colorMode: options.dataOptions.colorMode)
        Interrupt.install()
        var hooks = options.monitoring.hooks
        hooks.inputFiles = try ModelArgument.file(model).map { [$0] } ?? []
        try report(checkSettings { try Runs.train(configuration, hooks: hooks) })
    }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continue a run from its checkpoint, exactly where it stopped.")

    @Argument(help: "The checkpoint to continue.")
    var checkpoint: String

    @Option(help: "Total epochs to reach, counting those already done (default: one more).")
    var epochs: Int?

    @Option(help: "Where to write the checkpoint (default: back into CHECKPOINT).")
    var out: String?

    @Option(help: "The dataset, if it moved since the checkpoint was written.")
    var data: String?

    @Flag(help: "Start the optimizer afresh (step 0, no momentum or moments), keeping weights, epoch and data order.")
    var resetOptimizer = false

    /// The training images stay streamed or in memory as the run started; the budget bounds the rest, and a cache
    /// given replaces the recorded one.
    @OptionGroup(title: "Image storage (default: half of RAM, the run's cache)") var storage: StorageFlags

    /// Each flag given overrides the saved optimizer's value; a new learning rate or schedule keeps
    /// its state, any other change needs --reset-optimizer.
    @OptionGroup(title: "Optimizer overrides (default: the saved optimizer)") var optimizer: OptimizerOptions

    @OptionGroup var monitoring: MonitoringOptions

    func validate() throws {
        if let epochs { try checkSettings { try RunSetting.check(epochs: epochs) } }
        if let out { try checkCheckpointName(out) }
        if optimizer.optimizer != nil { try optimizer.validateForNewRun() }
    }

    func run() throws {
        try Isolation.preflight(checkpoint)
        Interrupt.install()
        try report(checkSettings {
            try Runs.resume(checkpointPath: checkpoint, epochs: epochs, outputPath: out, dataRoot: data,
                            optimizer: optimizer.configuration(over:), resetOptimizer: resetOptimizer,
                            memoryBudget: storage.memoryBudgetBytes(), cachePath: storage.cache, hooks: monitoring.hooks)
        })
    }
}

struct Finetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train from the weights of a checkpoint or Keras .h5 model, with a fresh optimizer and state.")

    @Argument(help: "An lrt checkpoint or Keras legacy .h5 model.")
    var model: String

    @Flag(help: "Continue with the file's optimizer and its state (an lrt checkpoint's, or Keras's optimizer_weights) instead of the optimizer flags.")
    var keepOptimizer = false

    @Flag(help: "Replace the model's last layer with parameters (a Dense) by a freshly initialized one with one unit per class of --data (same name and activation, Keras's initializers, seeded by --seed).")
    var newHead = false

    @Option(parsing: .singleValue, help: ArgumentHelp("Freeze the layers whose names match this glob (repeatable), e.g. 'conv*': no update, no parameter gradient, BatchNormalization in inference mode; saved as \"trainable\": false. `lrt inspect MODEL.h5` lists the layer names.", valueName: "pattern"))
    var freeze: [String] = []

    @OptionGroup var options: TrainingOptions

    func validate() throws {
        if let empty = freeze.first(where: \.isEmpty) { throw ValidationError("--freeze needs a pattern such as 'conv*', got '\(empty)'") }
    }

    func run() throws {
        try Isolation.preflight(model)
        Interrupt.install()
        let configuration = try options.configuration(modelConfig: "")
        try report(checkSettings {
            try Runs.finetune(modelPath: model, configuration: configuration, keepOptimizer: keepOptimizer,
                              options: Runs.FinetuneOptions(newHead: newHead, freeze: freeze),
                              hooks: options.monitoring.hooks)
        })
    }
}

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the BLAS and oneDNN libraries, kernels and threads in use, library versions, and check sgemm and oneDNN.")

    @Flag(help: "Print one JSON object.")
    var json = false

    @Option(help: "Matrix size of the sgemm speed test.")
    var gemmSize = 1024

    func validate() throws {
        guard (16...8192).contains(gemmSize) else { throw ValidationError("--gemm-size must be in 16...8192, got \(gemmSize)") }
    }

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let coreSource = BLASRuntime.wasReexecuted ? "set by lrt for this CPU"
            : environment[BLASRuntime.coreTypeVariable] != nil ? "set by OPENBLAS_CORETYPE" : "detected by OpenBLAS"
        let check = BLASRuntime.selfCheck(size: gemmSize)
        var oneDNNError: Double?, oneDNNProblem: String?
        do { oneDNNError = try OneDNNKernels.selfCheck() } catch { oneDNNProblem = "\(error)" }
        let oneDNNPassed = oneDNNProblem == nil && (oneDNNError.map { $0 <= 1e-5 } ?? true)  // NaN fails
        let backendSource = KernelBackend.invalidSetting.map { "\(KernelBackend.environmentVariable)=\($0) names no backend (onednn or blas); ignored" }
            ?? (environment[KernelBackend.environmentVariable] != nil ? "set by \(KernelBackend.environmentVariable)" : "default")
        let fields: [(String, String)] = [
            ("blas", BLASRuntime.configuration),
            ("blas_core", BLASRuntime.coreName),
            ("blas_core_source", coreSource),
            ("blas_threads", String(BLASRuntime.threadCount)),
            ("sgemm_max_relative_error", String(format: "%.2e", check.maximumRelativeError)),
            ("sgemm_check", check.passed ? "passed" : "FAILED"),
            ("sgemm_gflops", String(format: "%.1f", check.gigaflops)),
            ("onednn", OneDNN.version ?? "unavailable"),
            ("kernels", KernelBackend.preferred.rawValue),
            ("kernels_source", backendSource),
            ("winograd", WinogradConvolution.isEnabled
                ? "on: inference of 3×3 stride-1 convolutions with at least \(Conv2D.winogradMinimumChannels) channels in and out (\(WinogradConvolution.environmentVariable)=off turns it off)"
                : "off (\(WinogradConvolution.environmentVariable)=off)"),
            ("vector_kernels", CPUFeatures.usesAVX2 ? "avx2: Winograd's inference and the fused first-layer convolution run their AVX2 builds"
                : CPUFeatures.hasAVX2 ? "baseline x86-64 (\(CPUFeatures.environmentVariable)=off)" : "baseline (this CPU has no AVX2)"),
            ("fusion", InferenceFusion.isEnabled
                ? "on: inference computes a Conv2D and the 2×2 MaxPooling2D after it in one pass where it can (\(InferenceFusion.environmentVariable)=off turns it off)"
                : "off (\(InferenceFusion.environmentVariable)=off)"),
            ("inference_copies", InferenceReplicas.isEnabled
                ? "on: inference splits a large batch into one part per core, each taken through the whole network by a copy of the model (\(InferenceReplicas.environmentVariable)=off turns it off)"
                : "off (\(InferenceReplicas.environmentVariable)=off)"),
            ("onednn_max_relative_error", oneDNNError.map { String(format: "%.2e", $0) } ?? "-"),
            ("onednn_check", oneDNNProblem.map { "FAILED: \($0)" }
                ?? (oneDNNError == nil ? "skipped (oneDNN unavailable)" : oneDNNPassed ? "passed" : "FAILED")),
            ("threads", OpenMPTeam.isAvailable ? "\(Parallel.shardCount), on oneDNN's OpenMP team" : "\(Parallel.shardCount), on Dispatch"),
            ("hdf5", HDF5Library.version),
            ("libpng", PNGCodec.libpngVersion),
            ("libjpeg_turbo", JPEGCodec.libjpegTurboVersion),
            ("mpi", World.mpiLibraryVersion ?? "not compiled in (build with `swift build -c release --traits MPI`)"),
            ("mpi_ranks", World.communicator.size > 1 ? "\(World.communicator.size) (this is rank \(World.communicator.rank))"
                : World.launchedByMPI && !World.mpiCompiledIn ? "1 (started by mpirun, but MPI is not compiled in)" : "1"),
        ]
        guard World.communicator.rank == 0 else { return }  // one report per job
        if json {
            print(JSONValue.object(fields.map { ($0.0, .string($0.1)) }).serialized)
        } else {
            for (name, value) in fields { print(name.padding(toLength: 26, withPad: " ", startingAt: 0) + value) }
        }
        if !check.passed || !oneDNNPassed { throw ExitCode(1) }
    }
}

// MARK: - Shared

/// Refuses a checkpoint name Keras would not open as what lrt writes: `.keras` is Keras 3's zip format,
/// while lrt writes Keras's legacy HDF5 format, which `keras.models.load_model` reads from `.h5` names.
func checkCheckpointName(_ path: String, flag: String = "--out") throws {
    let name = (path as NSString).lastPathComponent
    guard !name.lowercased().hasSuffix(".keras") else {
        let stem = String(name.dropLast(".keras".count))
        throw ValidationError("\(flag) \(path): lrt writes Keras's HDF5 format (.h5), not the .keras zip format, and Keras refuses an HDF5 file named .keras; use \(flag) \(stem.isEmpty ? "model" : stem).h5")
    }
}

/// The text of a JSON config file (a model or optimizer config): a regular file of at most 16 MiB of UTF-8.
func readConfigFile(_ path: String, what: String = "model config") throws -> String {
    let bytes = try SafeFile.readRegularFile(path, what: what, limit: 16 << 20)
    do { return try JSONValue.decodeUTF8(bytes) } catch {
        throw CommandError.unreadable(path: path, what: what, reason: "\(error)")
    }
}

private func report(_ summary: RunSummary) throws {
    let accuracy = summary.testAccuracy.map { String(format: ", test accuracy %.4f", $0) }
        ?? summary.validationAccuracy.map { String(format: ", val_accuracy %.4f", $0) } ?? ""
    let printer = World.communicator.rank == 0  // under MPI every rank returns the same summary
    if summary.stoppedEarly {
        if printer { Runs.printError("interrupted: saved \(summary.checkpointPath) mid-epoch \(summary.epochs + 1); continue with `lrt resume \(summary.checkpointPath)`") }
        throw ExitCode(128 + Interrupt.received)
    }
    if printer { print("wrote \(summary.checkpointPath) (epoch \(summary.epochs)\(accuracy))") }
}
