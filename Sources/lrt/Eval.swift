import ArgumentParser
import Foundation
import LRTDistributed
import LRTLayers
import LRTTraining

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Report loss, accuracy, top-k accuracy, per-class precision, recall and F1, and the confusion matrix of a model on a dataset.",
        discussion: """
            Images are read as the model's training run read them (colour mode, size, resize mode; the defaults \
            for a Keras file). Precision, recall and F1 follow scikit-learn's classification_report (0 where \
            undefined); the macro average is over the classes that have images or predictions.
            """)

    @Argument(help: "An lrt checkpoint or Keras legacy .h5 model.")
    var checkpoint: String

    @Option(help: "Dataset folder (its test/ split, or class folders directly); default: the checkpoint's dataset.")
    var data: String?

    @Option(help: "The split to evaluate: test (DATA/test, or DATA itself when it holds the class folders), validation (the files the run validated on) or train.")
    var split = DataSplit.test

    @Flag(help: "Print one JSON object instead of tables.")
    var json = false

    @Option(help: "Images per forward pass.")
    var batchSize = 1000

    @Option(help: ArgumentHelp("The k of top-k accuracy (left out, with a note, when the model has k classes or fewer).", valueName: "k"))
    var topK = 5

    @Option(help: ArgumentHelp("List the N wrong predictions made with the highest probability, with their files.", valueName: "N"))
    var errors = 0

    @Option(help: ArgumentHelp("Write one CSV row per image: file, true class, predicted class, its probability, every class's probability.", valueName: "file.csv"))
    var predictions: String?

    @Flag(help: "Replace the --predictions file even when it is not an lrt CSV file (it may never be an input).")
    var overwrite = false

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        guard topK >= 1 else { throw ValidationError("--top-k must be at least 1, got \(topK)") }
        guard errors >= 0 else { throw ValidationError("--errors must be 0 (none) or a number of mistakes to list, got \(errors)") }
    }

    func run() throws {
        try Isolation.preflight(checkpoint)
        if let predictions { try CSVOutput.check(predictions, what: "predictions CSV", overwrite: overwrite, inputs: [checkpoint]) }
        var options = EvaluationOptions()
        options.topK = topK
        options.keepProbabilities = predictions != nil
        // Under mpirun each rank evaluates a shard of the split and every rank gets the whole report; rank 0 alone writes and prints.
        let report = try Runs.evaluate(modelPath: checkpoint, dataRoot: data, split: split, batchSize: batchSize, options: options,
                                       communicator: World.communicator)
        guard World.communicator.rank == 0 else { return }
        if let predictions { try report.writePredictions(to: predictions, overwrite: overwrite, inputs: [checkpoint]) }
        if report.topKAccuracy == nil {
            Runs.printError("note: top-\(topK) accuracy left out: the model has \(report.classNames.count) classes, so it would be 1")
        }
        if json { print(jsonReport(report).serialized) } else { printTables(report) }
        if let predictions { Runs.printError("wrote \(predictions) (\(report.count) images)") }
    }

    private func jsonReport(_ report: EvaluationReport) -> JSONValue {
        let perClass = report.perClass.map { entry -> JSONValue in
            .object([("class", .string(entry.name)), ("precision", .number(entry.precision)), ("recall", .number(entry.recall)),
                     ("f1", .number(entry.f1)), ("support", .number(Double(entry.support))),
                     ("correct", .number(Double(entry.correct))), ("count", .number(Double(entry.count))),
                     ("accuracy", .number(entry.recall))])
        }
        let average = { (average: EvaluationReport.Average) -> JSONValue in
            .object([("precision", .number(average.precision)), ("recall", .number(average.recall)),
                     ("f1", .number(average.f1)), ("support", .number(Double(average.support)))])
        }
        var fields: [(String, JSONValue)] = [
            ("accuracy", .number(report.accuracy)), ("loss", .number(report.loss)),
            ("count", .number(Double(report.count))), ("top_k", .number(Double(report.topK))),
            ("top_k_accuracy", report.topKAccuracy.map(JSONValue.number) ?? .null),
            ("seconds", .number(report.seconds)), ("images_per_second", .number(report.imagesPerSecond)),
            ("per_class", .array(perClass)), ("macro_avg", average(report.macroAverage)),
            ("weighted_avg", average(report.weightedAverage)),
            ("confusion_matrix", .array(report.confusion.map { .array($0.map { .number(Double($0)) }) })),
        ]
        if errors > 0 {
            fields.append(("errors", .array(report.mostConfidentErrors(errors).map { outcome in
                .object([("file", outcome.file.map(JSONValue.string) ?? .null),
                         ("true_class", .string(report.classNames[outcome.label])),
                         ("predicted_class", .string(report.classNames[outcome.predicted])),
                         ("probability", .number(outcome.probability))])
            })))
        }
        return .object(fields)
    }

    private func printTables(_ report: EvaluationReport) {
        print(String(format: "loss      %.4f\naccuracy  %.4f  (%d images, %.0f img/s)", report.loss, report.accuracy,
                     report.count, report.imagesPerSecond))
        if let topKAccuracy = report.topKAccuracy { print(String(format: "top-%d     %.4f", report.topK, topKAccuracy)) }
        print("")
        let width = max(12, report.perClass.map(\.name.count).max() ?? 0)
        let pad = { (text: String, width: Int) in text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0) }
        print(pad("class", width) + "  precision  recall  f1-score  support  correct/count")
        for entry in report.perClass {
            print(pad(entry.name, width) + String(format: "  %9.4f  %6.4f  %8.4f  %7d  %d/%d", entry.precision, entry.recall,
                                                  entry.f1, entry.support, entry.correct, entry.support))
        }
        for (name, average) in [("macro avg", report.macroAverage), ("weighted avg", report.weightedAverage)] {
            print(pad(name, width) + String(format: "  %9.4f  %6.4f  %8.4f  %7d", average.precision, average.recall,
                                            average.f1, average.support))
        }
        print("\nconfusion matrix (rows: true class, columns: predicted class)")
        let cellWidth = max(report.perClass.map(\.name.count).max() ?? 1, String(report.confusion.flatMap { $0 }.max() ?? 0).count)
        let right = { (text: String) in String(repeating: " ", count: max(0, cellWidth - text.count)) + text }
        print(pad("", width) + report.classNames.map { "  " + right($0) }.joined())
        for (name, row) in zip(report.classNames, report.confusion) {
            print(pad(name, width) + row.map { "  " + right(String($0)) }.joined())
        }
        guard errors > 0 else { return }
        let mistakes = report.mostConfidentErrors(errors)
        let total = report.outcomes.count(where: \.isError)
        print("\nmost confident mistakes (\(mistakes.count) of \(total))")
        let classWidth = max(10, report.classNames.map(\.count).max() ?? 0)
        print("probability  " + pad("true", classWidth) + "  " + pad("predicted", classWidth) + "  file")
        for outcome in mistakes {
            print(String(format: "%11.4f  ", outcome.probability) + pad(report.classNames[outcome.label], classWidth) + "  "
                  + pad(report.classNames[outcome.predicted], classWidth) + "  " + (outcome.file ?? "#\(outcome.index)"))
        }
    }
}
