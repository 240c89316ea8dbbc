import ArgumentParser
import Foundation
import LRTTensor

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
        subcommands: [Train.self, Resume.self, Finetune.self, Eval.self, Doctor.self, Inspect.self, Predict.self, Models.self])
}

@main
enum Entry {
    static func main() {
        // Must come first: OpenBLAS picked its kernels when it loaded; re-execute with
        // fast ones if it fell back to generic kernels on this CPU.
        BLASRuntime.prepareForFastKernels()
        if let setting = KernelBackend.invalidSetting {
            printError("warning: \(KernelBackend.environmentVariable)=\(setting) names no backend; using \(KernelBackend.preferred.rawValue) (set onednn or blas)")
        }
        LRT.main()
    }
}
