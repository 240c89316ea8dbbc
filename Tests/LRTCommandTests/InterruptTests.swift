import Foundation
import XCTest

/// Ctrl-C saves the run mid-epoch, exits with 130, and `lrt resume` continues from the file.
final class InterruptTests: CommandTestCase {
    func testInterruptSavesCheckpointThatResumes() throws {
        let dataset = try makeDataset()
        let checkpoint = outputs.appendingPathComponent("interrupted.h5")
        // One image per step and far more epochs than any test waits for: still running at SIGINT.
        let arguments = ["train", "--model", try makeModel().path, "--data", dataset.path, "--epochs", "1000000",
                         "--batch-size", "1", "--out", checkpoint.path]
        let started = try start(arguments)
        // Ready: the first epoch's line comes after the Ctrl-C handler is installed (before training starts).
        try waitForError(started, containing: "epoch 1/")
        XCTAssertTrue(started.process.isRunning, "training ended before the interrupt")
        started.process.interrupt()  // SIGINT, as Ctrl-C

        // Stop a process that ignores the interrupt rather than hang the test run.
        let watchdog = DispatchWorkItem { [process = started.process] in
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + 15, execute: watchdog)
        let run = try finish(started, arguments: arguments)
        watchdog.cancel()

        assertNoCrash(run)
        XCTAssertEqual(run.status, 130, "\(run.description.suffix(2000))")
        XCTAssertTrue(run.errorLines.last?.contains("interrupted") == true, "\(run.description.suffix(2000))")
        XCTAssertTrue(run.errorLines.last?.contains("lrt resume") == true, "\(run.description.suffix(2000))")
        XCTAssertEqual(try snapshot(outputs).keys.sorted(), ["interrupted.h5"], "no checkpoint, or temporary files left")

        // A bare resume would finish the stored plan (a million epochs): finish the interrupted epoch (the first, or a
        // later one on a fast machine), and only it.
        let interrupted = try completedEpochs(checkpoint.path) + 1
        let resume = try lrtSucceeds(["resume", checkpoint.path, "--epochs", String(interrupted)])
        XCTAssertEqual(resume.errorLines.filter { $0.hasPrefix("epoch ") }.count, 1, "\(resume)")
        XCTAssertEqual(try snapshot(outputs).keys.sorted(), ["interrupted.h5"])
    }
}
