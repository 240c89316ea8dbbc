import Foundation
import LRTHDF5
import XCTest

/// Issue 12, item 9: SIGINT and SIGTERM save mid-epoch and resume bit-identically, a second signal
/// quits at once without damaging the checkpoint, a non-finite run names a layer and keeps the last
/// good checkpoint, and a full disk keeps the previous checkpoint and says so.
final class NoLostWorkTests: CommandTestCase {
    /// Every float dataset under `/model_weights` and `/lrt/optimizer` (weights and optimizer slots), by path.
    private func storedState(_ checkpoint: URL) throws -> [String: [Float]] {
        let file = try HDF5File.openForReading(atPath: checkpoint.path)
        defer { try? file.close() }
        var values: [String: [Float]] = [:]
        func collect(_ group: HDF5Group, _ prefix: String) throws {
            for name in try group.memberNames() {
                if let child = try? group.openGroup(name) {
                    try collect(child, prefix + "/" + name)
                } else if let floats = try? group.readFloats(name) {
                    values[prefix + "/" + name] = floats.values
                }
            }
        }
        try collect(try file.root.openGroup("model_weights"), "/model_weights")
        try collect(try file.root.openGroup("lrt").openGroup("optimizer"), "/lrt/optimizer")
        return values
    }

    /// A signal during a run of `epochs` one-image steps: status 128 + signal, the resume command printed,
    /// and `lrt resume` reaching the same weights and optimizer slots as a run that was never stopped.
    private func assertSignalSavesAndResumesBitIdentically(_ signal: Int32, file: StaticString = #filePath, line: UInt = #line) throws {
        let dataset = try makeDataset(), model = try makeModel()
        let epochs = "60"  // 1,800 steps: far longer than the readiness wait, short enough to run to the end twice
        func train(_ out: URL) -> [String] {
            ["train", "--model", model.path, "--data", dataset.path, "--epochs", epochs, "--batch-size", "1",
             "--validation-split", "0", "--log-every", "7", "--out", out.path]
        }
        let straight = outputs.appendingPathComponent("straight.h5")
        try lrtSucceeds(train(straight), file: file, line: line)

        let stopped = outputs.appendingPathComponent("stopped.h5")
        let arguments = train(stopped)
        let started = try start(arguments)
        try waitForError(started, containing: "epoch 1/", file: file, line: line)  // the handler is installed before training
        XCTAssertTrue(started.process.isRunning, "training ended before the signal", file: file, line: line)
        kill(started.process.processIdentifier, signal)
        let run = try finish(started, arguments: arguments)
        assertNoCrash(run, file: file, line: line)
        XCTAssertEqual(run.status, 128 + signal, "\(run.description.suffix(1500))", file: file, line: line)
        XCTAssertTrue(run.errorLines.last?.contains("lrt resume \(stopped.path)") == true, "\(run.description.suffix(1500))",
                      file: file, line: line)
        XCTAssertTrue(run.errorLines.last?.contains("mid-epoch") == true, "\(run.description.suffix(1500))", file: file, line: line)
        let inspect = try lrtSucceeds(["inspect", stopped.path], file: file, line: line)
        XCTAssertTrue(inspect.standardOutput.contains("examples into epoch"), "the save is not mid-epoch: \(inspect.standardOutput)",
                      file: file, line: line)

        try lrtSucceeds(["resume", stopped.path, "--epochs", epochs], file: file, line: line)
        let expected = try storedState(straight), resumed = try storedState(stopped)
        XCTAssertFalse(expected.isEmpty, file: file, line: line)
        XCTAssertEqual(Set(resumed.keys), Set(expected.keys), file: file, line: line)
        for (path, values) in expected where resumed[path] != values {
            XCTFail("\(path) differs from the uninterrupted run", file: file, line: line)
        }
        XCTAssertEqual(try snapshot(outputs).keys.sorted(), ["stopped.h5", "straight.h5"], "temporary or lock files left",
                       file: file, line: line)
    }

    func testInterruptSavesMidEpochAndResumesBitIdentically() throws {
        try assertSignalSavesAndResumesBitIdentically(SIGINT)
    }

    func testTerminateSavesMidEpochAndResumesBitIdentically() throws {
        try assertSignalSavesAndResumesBitIdentically(SIGTERM)
    }

    /// Two Ctrl-C in a row: lrt quits at once (status 130) and the checkpoint on disk still loads.
    func testSecondInterruptQuitsAtOnceWithoutDamagingTheCheckpoint() throws {
        let checkpoint = outputs.appendingPathComponent("twice.h5")
        let arguments = ["train", "--model", try makeModel().path, "--data", try makeDataset().path, "--epochs", "1000000",
                         "--batch-size", "1", "--out", checkpoint.path]
        let started = try start(arguments)
        try waitForError(started, containing: "epoch 2/")  // an epoch's checkpoint is on disk
        kill(started.process.processIdentifier, SIGINT)
        kill(started.process.processIdentifier, SIGINT)
        let run = try finish(started, arguments: arguments)
        assertNoCrash(run)
        XCTAssertEqual(run.status, 130, "\(run.description.suffix(1500))")
        try lrtSucceeds(["inspect", checkpoint.path])
        try lrtSucceeds(["resume", checkpoint.path, "--epochs", "3"])  // also removes a temporary file the quit left
        XCTAssertEqual(try snapshot(outputs).keys.sorted(), ["twice.h5"])
    }

    /// A learning rate of 1e30: the error names the layer the last step moved most and a lower rate,
    /// and the previous checkpoint stays byte for byte (``assertFailsCleanly``).
    func testNonFiniteRunNamesALayerAndKeepsThePreviousCheckpoint() throws {
        let dataset = try makeDataset()
        let checkpoint = try trainCheckpoint(dataset: dataset)
        try assertFailsCleanly(["train", "--model", try makeModel().path, "--data", dataset.path, "--epochs", "3",
                                "--batch-size", "4", "--learning-rate", "1e30", "--quiet", "--out", checkpoint.path],
                               mentioning: ["loss became", "layer 'dense", "lower --learning-rate, e.g. 1e+29"])
    }

    /// A full disk while saving over an earlier checkpoint: the error says that file is unchanged, and it is.
    func testFullDiskKeepsThePreviousCheckpointAndSaysSo() throws {
        let disk = directory.appendingPathComponent("disk")
        try FileManager.default.createDirectory(at: disk, withIntermediateDirectories: true)
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=300k", "tmpfs", disk.path]
        mount.standardError = FileHandle.nullDevice
        guard (try? mount.run()) != nil, ({ mount.waitUntilExit(); return mount.terminationStatus == 0 })() else {
            throw XCTSkip("cannot mount a tmpfs here (not root?); SafeFileTests.testFullDiskKeepsThePreviousFileAndLeavesNoTemporary covers the full disk with a test double")
        }
        defer {
            let unmount = Process()
            unmount.executableURL = URL(fileURLWithPath: "/bin/umount")
            unmount.arguments = [disk.path]
            try? unmount.run()
            unmount.waitUntilExit()
        }
        let dataset = try makeDataset()
        let target = disk.appendingPathComponent("model.h5")
        try lrtSucceeds(["train", "--model", try makeModel().path, "--data", dataset.path, "--epochs", "1", "--out", target.path])
        let before = try Data(contentsOf: target)

        let wide = inputs.appendingPathComponent("wide.json")
        try """
            {"class_name": "Sequential", "config": {"name": "wide", "layers": [
              {"class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 1]}}, {"class_name": "Flatten"},
              {"class_name": "Dense", "config": {"units": 2000, "activation": "relu"}},
              {"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}]}}
            """.write(to: wide, atomically: true, encoding: .utf8)
        let run = try lrt(["train", "--model", wide.path, "--data", dataset.path, "--epochs", "1", "--out", target.path])
        assertNoCrash(run)
        XCTAssertEqual(run.status, 1, "\(run)")
        let message = run.errorLines.last ?? ""
        XCTAssertTrue(message.contains("No space left on device"), message)
        XCTAssertTrue(message.contains("the previous \(target.path) is unchanged"), message)
        XCTAssertEqual(try Data(contentsOf: target), before, "the previous checkpoint changed")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: disk.path), ["model.h5"], "a temporary file was left")
    }
}
