import Foundation
import LRTHDF5
import LRTLayers
import LRTOptimizers
import LRTTensor
import XCTest
@testable import LRTFormat

/// Base class of the format tests: a fresh temporary folder per test, the committed fixtures,
/// a small trained checkpoint, and assertions for refused files.
class FormatTestCase: XCTestCase {
    private(set) var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("lrt-format-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    /// A path in the test's temporary folder.
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// The repository (this file is `<repo>/Tests/LRTFormatTests/FormatTestCase.swift`).
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// A committed fixture, `Tests/LRTFormatTests/Fixtures/<name>`.
    func fixture(_ name: String) throws -> String {
        let path = Self.repository.appendingPathComponent("Tests/LRTFormatTests/Fixtures/\(name)").path
        guard FileManager.default.fileExists(atPath: path) else {
            XCTFail("fixture \(path) is missing; it is committed with the tests (Tools/make_format_fixtures.py makes the Keras ones)")
            throw CheckpointError(path: name, "missing fixture \(name)")
        }
        return path
    }

    /// One layer of every class lrt builds today that the tests can count on: Flatten, Dense, ReLU, Activation.
    static let modelConfig = """
        {"class_name": "Sequential", "config": {"name": "mlp", "layers": [
          {"class_name": "InputLayer", "config": {"batch_shape": [null, 3, 3, 1]}},
          {"class_name": "Flatten"},
          {"class_name": "Dense", "config": {"units": 4}},
          {"class_name": "ReLU"},
          {"class_name": "Dense", "config": {"units": 2}},
          {"class_name": "Activation", "config": {"activation": "softmax"}}]}}
        """

    /// A model, an SGD-momentum optimizer after one step, and a mid-epoch training state.
    func trainedState(config: String = FormatTestCase.modelConfig) throws -> (any Model, Optimizer, TrainingState) {
        var generator = SeededGenerator(seed: 3)
        let model = try ModelConfig.build(text: config, generator: &generator)
        let optimizer = Optimizer(rule: try StochasticGradientDescent(momentum: 0.9), layerRates: .paper,
                                  schedule: try ConstantSchedule(learningRate: 0.05))
        for parameter in model.parameters {
            for index in 0..<parameter.gradient.count { parameter.gradient.storage[index] = generator.nextFloat(in: -1, 1) }
        }
        optimizer.apply(to: model.parameterGroups, epoch: 0)
        var state = TrainingState()
        state.epoch = 2
        state.globalStep = 17
        state.seed = UInt64.max - 5
        state.generatorState = 0x8000_0000_0000_0001
        state.epochOrder = [3, 1, 0, 2]
        state.position = 2
        state.epochLossSum = 1.25
        state.epochCorrect = 1
        state.epochSeen = 2
        state.batchSize = 2
        state.dataRoot = "/data/digits é"
        state.classNames = ["cat", "dog"]
        state.history.append([("loss", 0.5), ("accuracy", 0.75)])
        state.history.append([("loss", 0.25), ("accuracy", 1)])
        state.telemetry.append(step: 8, names: ["dense", "dense_1"], gradientNorms: [0.5, 0.25], weightNorms: [2, 1.5],
                               updateNorms: [0.125, 0.0625], multipliers: [1.5, 2])
        state.telemetry.append(step: 16, names: ["dense", "dense_1"], gradientNorms: [0.375, 0.125], weightNorms: [2.25, 1.75],
                               updateNorms: [0.0625, 0.03125], multipliers: [1.75, 2.5])
        return (model, optimizer, state)
    }

    /// Saves ``trainedState(config:)`` to `name` in the temporary folder.
    func savedCheckpoint(_ name: String = "run.h5", compress: Bool = false) throws -> String {
        let (model, optimizer, state) = try trainedState()
        let file = path(name)
        try Checkpoint.save(model: model, optimizer: optimizer, training: state, to: file, compressWeights: compress)
        return file
    }

    /// Asserts that loading `file` throws a one-line ``CheckpointError`` mentioning every
    /// fragment, with nothing written to standard error (no HDF5 error dump).
    func assertLoadFails(_ file: String, mentioning fragments: [String], line: UInt = #line) {
        var thrown: Error?
        let standardError = capturingStandardError {
            do { _ = try Checkpoint.load(from: file) } catch { thrown = error }
        }
        XCTAssertEqual(standardError, "", "loading \(file) wrote to stderr", line: line)
        guard let error = thrown else { return XCTFail("\(file) loaded but should have been refused", line: line) }
        XCTAssert(error is CheckpointError, "\(type(of: error)): \(error)", line: line)
        let message = "\(error)"
        XCTAssertFalse(message.contains("\n"), message, line: line)
        for fragment in fragments {
            XCTAssert(message.contains(fragment), "'\(message)' lacks '\(fragment)'", line: line)
        }
    }

    /// Runs `body` with file descriptor 2 redirected and returns what was written to it.
    func capturingStandardError(_ body: () -> Void) -> String {
        let capturePath = path("stderr-\(UUID().uuidString).txt")
        let capture = open(capturePath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let saved = dup(2)
        fflush(nil)
        dup2(capture, 2)
        body()
        fflush(nil)
        dup2(saved, 2)
        close(saved)
        close(capture)
        return (try? String(contentsOfFile: capturePath, encoding: .utf8)) ?? ""
    }

    /// The largest absolute difference between two equally long arrays.
    func maximumDifference(_ first: [Float], _ second: [Float]) -> Float {
        XCTAssertEqual(first.count, second.count)
        return zip(first, second).map { abs($0 - $1) }.max() ?? 0
    }

    /// The Python to run the tools with: `Tools/.venv/bin/python3` when that virtual
    /// environment exists (h5py and numpy installed there, ignored by git), else `python3`.
    static var pythonCommand: [String] {
        let venv = repository.appendingPathComponent("Tools/.venv/bin/python3").path
        return FileManager.default.isExecutableFile(atPath: venv) ? [venv] : ["python3"]
    }

    /// Whether `python3 -c "import MODULES"` works here (CI installs no Python packages).
    static func pythonHas(_ modules: [String]) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = pythonCommand + ["-c", "import " + modules.joined(separator: ", ")]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return false }
        process.waitUntilExit()
        return process.terminationReason == .exit && process.terminationStatus == 0
    }

    /// Runs `python3 arguments`; returns the exit status, standard output and standard error.
    func python(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = Self.pythonCommand + arguments
        let outputURL = directory.appendingPathComponent("python-\(UUID().uuidString).out")
        let errorURL = directory.appendingPathComponent("python-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: outputURL)
        process.standardError = try FileHandle(forWritingTo: errorURL)
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, try String(contentsOf: outputURL, encoding: .utf8),
                try String(contentsOf: errorURL, encoding: .utf8))
    }
}
