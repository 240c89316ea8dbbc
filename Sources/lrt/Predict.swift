import ArgumentParser
import Foundation
import LRTFormat
import LRTTraining

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Predict inputs stored in an HDF5 file and write the predictions to another.",
        discussion: """
            INPUTS holds a dataset (default `x`) of shape [count, …model input shape]; OUT receives `y_pred`
            [count, …model output shape], probabilities when the model ends in softmax: the layout of
            Keras reference files, so predictions can be compared with Keras's (Tools/keras_check.py).
            """)

    @Argument(help: "An lrt checkpoint or Keras legacy .h5 model.")
    var model: String

    @Option(help: "HDF5 file with the inputs.")
    var inputs: String

    @Option(help: "The dataset in INPUTS holding the inputs.")
    var inputName = "x"

    @Option(help: "HDF5 file to write (dataset y_pred).")
    var out: String

    @Option(help: "Examples per forward pass.")
    var batchSize = 256

    @Flag(help: "Replace OUT even when it is not an lrt predictions file (it may never be MODEL or INPUTS).")
    var overwrite = false

    func validate() throws {
        try checkSettings { try RunSetting.check(batchSize: batchSize) }
    }

    func run() throws {
        try Isolation.preflight(model)
        try Prediction.checkOutput(out, modelPath: model, inputsPath: inputs, overwrite: overwrite)
        try Isolation.superviseUnlessChild(files: [model, inputs])
        let summary = try Prediction.run(modelPath: model, inputsPath: inputs, outputPath: out, inputName: inputName,
                                         batchSize: batchSize, overwrite: overwrite)
        summary.warnings.forEach { Runs.printError("warning: \($0)") }
        print("wrote \(out) (y_pred \(summary.outputShape))")
    }
}
