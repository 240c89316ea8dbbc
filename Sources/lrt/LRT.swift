import ArgumentParser
import Foundation
import LRTTensor
import LRTTraining

/// `lrt`: train, resume, finetune and evaluate image classifiers with layer-specific adaptive learning rates.
struct LRT: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lrt",
        abstract: "Train image classifiers with layer-specific adaptive learning rates (Singh et al. 2015).",
        discussion: """
            Datasets are folders of PNG images, DIR/train/<class>/*.png and DIR/test/<class>/*.png.
            Models are Keras model configs (JSON); checkpoints are HDF5 files that Keras and h5py can open.
            With no arguments, `lrt train` trains the sample CNN on the bundled 8x8 digits.
            """,
        version: "0.1.0",
        subcommands: [Train.self, Resume.self, Finetune.self, Eval.self, Doctor.self, Inspect.self, Predict.self, Models.self, Plot.self])
}

@main
enum Entry {
    static func main() {
        // Before any parallel region: an absurd OMP_NUM_THREADS makes libgomp crash.
        ThreadLimits.clampAbsurdThreadCounts()
        // Must come first: OpenBLAS picked its kernels when it loaded; re-execute with
        // fast ones if it fell back to generic kernels on this CPU.
        BLASRuntime.prepareForFastKernels()
        if let setting = KernelBackend.invalidSetting {
            Runs.printError("warning: \(KernelBackend.environmentVariable)=\(setting) names no backend; using \(KernelBackend.preferred.rawValue) (set onednn or blas)")
        }
        LRT.main()
    }
}

/// Thread-count environment variables, checked before any thread is started.
enum ThreadLimits {
    /// The variables read by the thread pools lrt uses (libgomp through oneDNN, OpenBLAS).
    static let variables = ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"]

    /// The most threads accepted: 4 per processor (more only slows a run down).
    static var maximum: Int { 4 * max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// Replaces a thread count above ``maximum`` (`OMP_NUM_THREADS=100000` made libgomp
    /// segfault creating its team) by the processor count, with a warning, and re-executes
    /// this program: the libraries read the variables when they load, before `main`.
    static func clampAbsurdThreadCounts() {
        let environment = ProcessInfo.processInfo.environment
        var changed = false
        for variable in variables {
            guard let text = environment[variable] else { continue }
            // OMP_NUM_THREADS may list one count per nesting level: "8,2".
            let counts = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard counts.contains(where: { ($0 ?? 0) > maximum }) else { continue }
            let processors = max(1, ProcessInfo.processInfo.activeProcessorCount)
            Runs.printError("warning: \(variable)=\(text) asks for more than \(maximum) threads (4 per processor); using \(processors)")
            setenv(variable, String(processors), 1)
            changed = true
        }
        guard changed else { return }
        let argumentPointers = CommandLine.arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", argumentPointers)
        // Only reached when execv failed: the libraries keep the counts they read.
        argumentPointers.forEach { free($0) }
    }
}
