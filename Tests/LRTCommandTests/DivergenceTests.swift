import Foundation
import LRTHDF5
import XCTest

/// A learning rate so large that the loss overflows stops the run with a hint, and never
/// leaves a checkpoint of diverged weights.
final class DivergenceTests: CommandTestCase {
    /// `lrt train` with a learning rate of 1e30 on 30 images: with batches of 4 the loss is NaN at step 2 of epoch 1.
    private func divergingTrain(out checkpoint: URL, batchSize: Int = 4) throws -> [String] {
        ["train", "--model", try makeModel().path, "--data", try makeDataset().path, "--epochs", "3",
         "--batch-size", String(batchSize), "--learning-rate", "1e30", "--quiet", "--out", checkpoint.path]
    }

    /// `--quiet`: stderr then holds the error line alone (without it, a progress line comes first, after step 1).
    func testNonFiniteLossStopsWithHintAndWritesNothing() throws {
        let checkpoint = outputs.appendingPathComponent("diverged.h5")
        try assertFailsCleanly(try divergingTrain(out: checkpoint) + ["--quiet"], mentioning: ["loss", "--learning-rate"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: checkpoint.path))
    }

    func testNonFiniteLossKeepsExistingCheckpoint() throws {
        let dataset = try makeDataset()
        let checkpoint = try trainCheckpoint(dataset: dataset)
        // assertFailsCleanly checks that the checkpoint stays byte-identical.
        try assertFailsCleanly(try divergingTrain(out: checkpoint) + ["--quiet"], mentioning: ["loss", "--learning-rate"])
    }

    /// With one step per epoch (30 images, batch 32), the first update already makes the
    /// weights non-finite but its own loss was computed before it: the run must still not
    /// report success or save those weights as a good epoch.
    func testWeightsThatDivergeInTheLastStepOfAnEpochAreNotSaved() throws {
        let checkpoint = outputs.appendingPathComponent("diverged.h5")
        let run = try lrt(try divergingTrain(out: checkpoint, batchSize: 32))
        assertNoCrash(run)
        XCTAssertNotEqual(run.status, 0, "a diverged run reported success: \(run)")
        XCTAssertTrue(run.errorLines.last?.hasPrefix("Error: ") == true, "\(run)")
        XCTAssertTrue(run.errorLines.last?.contains("--learning-rate") == true, "no hint to lower the rate: \(run)")
        for line in run.errorLines where line.hasPrefix("epoch ") {
            XCTAssertFalse(line.contains("nan"), "an epoch with non-finite validation loss was accepted: \(line)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: checkpoint.path),
                       "a checkpoint of non-finite weights was written: \(run)")
    }

    /// `lrt eval --json` is for scripts: whatever the weights, its output parses as JSON
    /// (a non-finite loss as null or a string, not a bare `nan`), or it fails cleanly.
    func testEvalJSONOfNonFiniteWeightsIsStillJSON() throws {
        let dataset = try makeDataset()
        let checkpoint = try trainCheckpoint(dataset: dataset)
        try overwriteKernels(of: checkpoint, with: .nan)

        let run = try lrt(["eval", checkpoint.path, "--json"])
        assertNoCrash(run)
        if run.status == 0 {
            let object = try? JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8))
            let report = try XCTUnwrap(object as? [String: Any], "eval --json printed invalid JSON: \(run.standardOutput)")
            XCTAssertFalse((report["loss"] as? Double)?.isFinite ?? false, "NaN weights gave a finite loss: \(report)")
        } else {
            XCTAssertEqual(run.errorLines.count, 1, "\(run)")
            XCTAssertTrue(run.errorLines.first?.hasPrefix("Error: ") == true, "\(run)")
        }
    }

    /// Sets every value of every `kernel` under `/model_weights` to `value`, in place: finds
    /// the stored floats' bytes in the file (lrt stores weights uncompressed).
    private func overwriteKernels(of checkpoint: URL, with value: Float) throws {
        let file = try HDF5File.openForReading(atPath: checkpoint.path)
        func kernels(in group: HDF5Group) throws -> [[Float]] {
            try group.memberNames().flatMap { name -> [[Float]] in
                if name == "kernel" { return [try group.readFloats(name).values] }
                guard let child = try? group.openGroup(name) else { return [] }
                return try kernels(in: child)
            }
        }
        let found = try kernels(in: try file.root.openGroup("model_weights"))
        try file.close()
        XCTAssertFalse(found.isEmpty, "no kernel in \(checkpoint.path)")
        var bytes = try Data(contentsOf: checkpoint)
        for kernel in found {
            let stored = kernel.withUnsafeBytes { Data($0) }
            let range = try XCTUnwrap(bytes.range(of: stored), "a kernel is not stored as plain floats")
            bytes.replaceSubrange(range, with: [Float](repeating: value, count: kernel.count).withUnsafeBytes { Data($0) })
        }
        try bytes.write(to: checkpoint)
    }
}
