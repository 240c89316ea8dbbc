import CHDF5
import Foundation
import LRTHDF5
import XCTest

/// Hostile files, full disks, signals and careless paths (issue 10), end to end: every case
/// ends in one error line naming the file or value and a fix, a non-zero status, no signal,
/// no hang, and nothing written that the user did not name as output.
final class FaultInjectionTests: CommandTestCase {
    private var dataset: URL!
    private var model: URL!
    private var checkpoint: String { outputs.appendingPathComponent("model.h5").path }
    private var mountPoints: [String] = []

    override func setUpWithError() throws {
        try super.setUpWithError()
        dataset = try makeDataset()
        model = try makeModel()
    }

    override func tearDownWithError() throws {
        for mountPoint in mountPoints { _ = runTool("/bin/umount", [mountPoint]) }
        try super.tearDownWithError()
    }

    private func train(out: String, _ options: [String] = []) -> [String] {
        ["train", "--model", model.path, "--data", dataset.path, "--epochs", "1", "--batch-size", "4", "--out", out] + options
    }

    @discardableResult
    private func runTool(_ executable: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// A tmpfs of `kilobytes` at a new folder, or nil where mounting is not allowed (then the
    /// file-layer double in `SafeFileTests.testFullDiskKeepsThePreviousFileAndLeavesNoTemporary`
    /// covers the full disk).
    private func smallDisk(kilobytes: Int) -> URL? {
        let folder = directory.appendingPathComponent("disk-\(mountPoints.count)")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        guard runTool("/bin/mount", ["-t", "tmpfs", "-o", "size=\(kilobytes)k", "tmpfs", folder.path]) == 0 else { return nil }
        mountPoints.append(folder.path)
        return folder
    }

    // MARK: - Full disk (case 1)

    /// A 200 KB disk as --out's folder: `train` and `resume` report the full disk and exit 1,
    /// instead of crashing in libhdf5 (SIGSEGV, status 139) after the message; nothing is left on the disk.
    func testFullDiskFailsCleanlyInTrainAndResume() throws {
        guard let disk = smallDisk(kilobytes: 200) else { throw XCTSkip("cannot mount a tmpfs here; SafeFileTests covers the full disk") }
        let bigModel = inputs.appendingPathComponent("big.json")
        try """
            {"class_name": "Sequential", "config": {"name": "wide", "layers": [
              {"class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 1]}}, {"class_name": "Flatten"},
              {"class_name": "Dense", "config": {"units": 2000, "activation": "relu"}},
              {"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}]}}
            """.write(to: bigModel, atomically: true, encoding: .utf8)
        let target = disk.appendingPathComponent("model.h5").path
        let trainArguments = ["train", "--model", bigModel.path, "--data", dataset.path, "--epochs", "1", "--batch-size", "8",
                              "--out", target]
        let run = try lrt(trainArguments)
        assertNoCrash(run)
        XCTAssertEqual(run.status, 1, "\(run)")
        XCTAssertTrue(run.errorLines.last?.contains("No space left on device") == true, "\(run)")
        XCTAssertTrue(run.errorLines.last?.contains(target) == true, "\(run)")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: disk.path), [], "a partial file was left")

        let saved = try trainCheckpoint("big.h5", dataset: dataset)
        let resume = try lrt(["resume", saved.path, "--out", target])
        assertNoCrash(resume)
        XCTAssertEqual(resume.status, 0, "the tiny model fits: \(resume)")
        let bigSaved = outputs.appendingPathComponent("wide.h5").path
        try lrtSucceeds(["train", "--model", bigModel.path, "--data", dataset.path, "--epochs", "1", "--batch-size", "8",
                         "--out", bigSaved])
        let bigResume = try lrt(["resume", bigSaved, "--epochs", "2", "--out", disk.appendingPathComponent("wide.h5").path])
        assertNoCrash(bigResume)
        XCTAssertEqual(bigResume.status, 1, "\(bigResume)")
        XCTAssertTrue(bigResume.errorLines.last?.contains("No space left on device") == true, "\(bigResume)")
    }

    // MARK: - Kill -9 and signals during saves

    /// kill -9 at random moments of a run that saves every few milliseconds: the checkpoint on
    /// disk always loads, at most the killed run's temporary file is left, and the next save removes it.
    func testKillDuringSavesNeverDamagesTheCheckpoint() throws {
        let target = outputs.appendingPathComponent("killed.h5").path
        let arguments = ["train", "--model", model.path, "--data", dataset.path, "--epochs", "1000000", "--batch-size", "30",
                         "--log-every", "0", "--out", target]
        var generator = SystemRandomNumberGenerator()
        var kills = 0
        for round in 0..<8 {
            let started = try start(arguments)
            // Past start-up (the first epoch's line comes right before its save), then a random moment
            // among the saves that follow, however loaded the machine is.
            try waitForError(started, containing: "epoch 1/")
            Thread.sleep(forTimeInterval: Double.random(in: 0...1.5, using: &generator))
            guard started.process.isRunning else { return XCTFail("training ended before kill \(round)") }
            kill(started.process.processIdentifier, SIGKILL)
            started.process.waitUntilExit()
            kills += 1
            guard FileManager.default.fileExists(atPath: target) else { continue }
            let inspect = try lrt(["inspect", target])
            XCTAssertEqual(inspect.status, 0, "after kill \(round) the checkpoint does not load: \(inspect)")
            let temporaries = try FileManager.default.contentsOfDirectory(atPath: outputs.path).filter { $0.contains("tmp") }
            XCTAssertLessThanOrEqual(temporaries.count, 1, "stale temporaries pile up: \(temporaries)")
        }
        XCTAssertEqual(kills, 8)
        XCTAssertTrue(FileManager.default.fileExists(atPath: target), "no save finished in 8 runs")
        // The plan is a million epochs: one more (or the end of the interrupted one) is enough here.
        try lrtSucceeds(["resume", target, "--out", target, "--epochs", String(try completedEpochs(target) + 1)])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: outputs.path), ["killed.h5"],
                       "a temporary or lock file of a killed run remains")
    }

    /// SIGTERM (kill, docker stop) saves mid-epoch like Ctrl-C and exits with 143; the file resumes.
    func testTerminateSavesLikeInterrupt() throws {
        let target = outputs.appendingPathComponent("terminated.h5")
        let arguments = ["train", "--model", model.path, "--data", dataset.path, "--epochs", "1000000", "--batch-size", "1",
                         "--out", target.path]
        let started = try start(arguments)
        // Until the first epoch is saved: the handler is installed by then.
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: target.path), Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        XCTAssertTrue(started.process.isRunning, "training ended before SIGTERM")
        started.process.terminate()
        let run = try finish(started, arguments: arguments)
        assertNoCrash(run)
        XCTAssertEqual(run.status, 143, "\(run.description.suffix(1500))")
        XCTAssertTrue(run.errorLines.last?.contains("interrupted: saved") == true, "\(run.description.suffix(1500))")
        try lrtSucceeds(["resume", target.path, "--epochs", String(try completedEpochs(target.path) + 1)])
        XCTAssertEqual(try snapshot(outputs).keys.sorted(), ["terminated.h5"], "temporary or lock files left")
    }

    // MARK: - --out overwrites nothing the user did not name as output (case 2)

    /// A text file, the model's own JSON, a training image, /dev/null, a FIFO and a folder are
    /// refused as --out before training; `--overwrite` replaces only a regular file that is not an input.
    func testOutRefusesFilesThatAreNotCheckpoints() throws {
        let notes = outputs.appendingPathComponent("notes.txt").path
        try "my notes".write(toFile: notes, atomically: true, encoding: .utf8)
        let fifo = inputs.appendingPathComponent("pipe.h5").path  // not in out/: the snapshot would read it
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let image = dataset.appendingPathComponent("train/left/000.png").path
        try assertFailsCleanly(train(out: notes), mentioning: [notes, "not an lrt checkpoint", "--overwrite"])
        try assertFailsCleanly(train(out: model.path), mentioning: [model.path, "also an input"])
        try assertFailsCleanly(train(out: model.path, ["--overwrite"]), mentioning: [model.path, "also an input"])
        try assertFailsCleanly(train(out: image, ["--overwrite"]), mentioning: [image, "inside the input folder"])
        try assertFailsCleanly(train(out: "/dev/null", ["--overwrite"]), mentioning: ["/dev/null", "character device"])
        try assertFailsCleanly(train(out: fifo, ["--overwrite"]), mentioning: [fifo, "FIFO"])
        try assertFailsCleanly(train(out: outputs.path), mentioning: [outputs.path, "folder"])
        var status = stat()
        XCTAssertEqual(stat("/dev/null", &status), 0)
        XCTAssertEqual(status.st_mode & S_IFMT, S_IFCHR, "/dev/null is no longer a device")

        let run = try lrtSucceeds(train(out: notes, ["--overwrite"]))
        XCTAssertTrue(run.standardOutput.contains("wrote \(notes)"), "\(run)")
        try lrtSucceeds(train(out: notes))  // now a checkpoint: replaced without --overwrite
    }

    /// `predict --out` may be neither the inputs (which it destroyed) nor the model.
    func testPredictOutIsNeverAnInput() throws {
        let saved = try trainCheckpoint(dataset: dataset)
        let inputsFile = inputs.appendingPathComponent("x.h5").path
        let file = try HDF5File.create(atPath: inputsFile)
        try file.root.writeFloats("x", [Float](repeating: 0.5, count: 2 * 64), shape: [2, 8, 8, 1])
        try file.close()
        let before = try Data(contentsOf: URL(fileURLWithPath: inputsFile))
        for overwrite in [[], ["--overwrite"]] {
            try assertFailsCleanly(["predict", saved.path, "--inputs", inputsFile, "--out", inputsFile] + overwrite,
                                   mentioning: [inputsFile, "input"])
            try assertFailsCleanly(["predict", saved.path, "--inputs", inputsFile, "--out", saved.path] + overwrite,
                                   mentioning: [saved.path, "input"])
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: inputsFile)), before)
        let predictions = outputs.appendingPathComponent("y.h5").path
        try lrtSucceeds(["predict", saved.path, "--inputs", inputsFile, "--out", predictions])
        try lrtSucceeds(["predict", saved.path, "--inputs", inputsFile, "--out", predictions])  // its own output: replaced
    }

    /// `--out ""`, `--out newdir/` and a 256-byte file name fail before training (they used to
    /// train the whole run and fail at the first save).
    func testUnwritableOutFailsBeforeTraining() throws {
        for (out, fragment) in [("", "empty"), ("newdir/", "ends in '/'"),
                                (outputs.appendingPathComponent(String(repeating: "n", count: 253) + ".h5").path, "too long")] {
            let run = try assertFailsCleanly(train(out: out), mentioning: [fragment])
            XCTAssertFalse(run.standardError.contains("epoch 1/"), "it trained before failing: \(run)")
        }
    }

    /// A symbolic link as --out is refused without --overwrite; a link planted at the old
    /// predictable temporary name never makes lrt write through it.
    func testSymbolicLinksAreNotWrittenThrough() throws {
        let victim = inputs.appendingPathComponent("victim.txt").path
        try "precious".write(toFile: victim, atomically: true, encoding: .utf8)
        let link = outputs.appendingPathComponent("link.h5").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: victim)
        try assertFailsCleanly(train(out: link), mentioning: [link, "symbolic link"])
        try FileManager.default.removeItem(atPath: link)
        // The name the old code used: .<out>.<pid>.tmp, for every likely pid.
        let base = ProcessInfo.processInfo.processIdentifier
        for pid in base..<(base + 200) {
            try FileManager.default.createSymbolicLink(atPath: outputs.appendingPathComponent(".model.h5.\(pid).tmp").path,
                                                       withDestinationPath: victim)
        }
        try lrtSucceeds(train(out: checkpoint))
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "precious")
    }

    // MARK: - Two runs, one file (case 8)

    /// A second run writing the same checkpoint fails at once, naming the first run's process id.
    func testSecondRunOnTheSameCheckpointFailsAtOnce() throws {
        let arguments = ["train", "--model", model.path, "--data", dataset.path, "--epochs", "1000000", "--batch-size", "1",
                         "--out", checkpoint]
        let first = try start(arguments)
        defer { if first.process.isRunning { kill(first.process.processIdentifier, SIGKILL) } }
        // The first epoch's line: the run holds the lock from before its data is read.
        try waitForError(first, containing: "epoch 1/")
        let started = Date()
        let second = try lrt(["train", "--model", model.path, "--data", dataset.path, "--epochs", "1", "--seed", "7",
                              "--out", checkpoint])
        assertNoCrash(second)
        XCTAssertNotEqual(second.status, 0, "\(second)")
        XCTAssertTrue(second.errorLines.first?.contains("process \(first.process.processIdentifier)") == true, "\(second)")
        XCTAssertFalse(second.standardError.contains("epoch 1/"), "\(second)")
        XCTAssertLessThan(Date().timeIntervalSince(started), 20)
    }

    // MARK: - Reading only the given file (case 4)

    /// A checkpoint whose kernel is stored in `secret.bin` is refused by `resume`, `eval` and
    /// `inspect`; `resume` used to copy the secret's bytes into the checkpoint it wrote.
    func testExternallyStoredKernelIsRefusedEverywhere() throws {
        let saved = try trainCheckpoint(dataset: dataset)
        let secret = inputs.appendingPathComponent("secret.bin").path
        try Data(repeating: 0x41, count: 64 * 16 * 4).write(to: URL(fileURLWithPath: secret))
        let kernel = "/model_weights/dense/tiny_mlp/dense/kernel"
        let file = H5Fopen(saved.path, 1 /* H5F_ACC_RDWR */, lrt_H5P_DEFAULT())
        XCTAssertGreaterThanOrEqual(file, 0)
        XCTAssertGreaterThanOrEqual(H5Ldelete(file, kernel, lrt_H5P_DEFAULT()), 0)
        var dimensions: [hsize_t] = [64, 16]
        let space = H5Screate_simple(2, &dimensions, nil)
        let properties = H5Pcreate(lrt_H5P_DATASET_CREATE())
        XCTAssertGreaterThanOrEqual(H5Pset_external(properties, secret, 0, 64 * 16 * 4), 0)
        let dataset = H5Dcreate2(file, kernel, lrt_H5T_IEEE_F32LE(), space, lrt_H5P_DEFAULT(), properties, lrt_H5P_DEFAULT())
        XCTAssertGreaterThanOrEqual(dataset, 0)
        H5Dclose(dataset)
        H5Pclose(properties)
        H5Sclose(space)
        H5Fclose(file)
        for arguments in [["resume", saved.path, "--epochs", "3"], ["eval", saved.path], ["inspect", saved.path]] {
            try assertFailsCleanly(arguments, mentioning: [saved.lastPathComponent, kernel, "external file"])
        }
    }

    // MARK: - Hangs (case 5)

    /// A FIFO as checkpoint, as predict's inputs, as model config or as optimizer config is refused at once
    /// (a checkpoint FIFO cost 60 s and then a "damaged" message; the others blocked forever).
    func testFIFOsAreRefusedAtOnce() throws {
        let saved = try trainCheckpoint(dataset: dataset)
        let fifo = inputs.appendingPathComponent("fifo.h5").path
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let started = Date()
        try assertFailsCleanly(["eval", fifo, "--data", self.dataset.path], mentioning: [fifo, "FIFO"])
        try assertFailsCleanly(["resume", fifo], mentioning: [fifo, "FIFO"])
        try assertFailsCleanly(["inspect", fifo], mentioning: [fifo, "FIFO"])
        try assertFailsCleanly(["predict", saved.path, "--inputs", fifo, "--out", outputs.appendingPathComponent("y.h5").path],
                               mentioning: [fifo, "FIFO"])
        try assertFailsCleanly(["train", "--model", fifo, "--data", self.dataset.path, "--out", checkpoint], mentioning: [fifo, "FIFO"])
        try assertFailsCleanly(["train", "--optimizer-config", fifo, "--data", self.dataset.path, "--out", checkpoint],
                               mentioning: [fifo, "FIFO"])
        XCTAssertLessThan(Date().timeIntervalSince(started), 30, "a FIFO made a command wait")
    }

    // MARK: - Resources (case 6)

    /// A model whose weights fit but whose run does not (gradients, momentum, save) is refused
    /// with the estimate under `ulimit -v`, instead of `Fatal error: failed to allocate` (SIGABRT).
    func testRunTooLargeForTheAddressSpaceIsRefusedWithTheEstimate() throws {
        let (process, standardError) = try trainUnderAddressLimit(kilobytes: 2_000_000, hiddenLayers: 2, units: 8192)
        XCTAssertEqual(process.terminationReason, .exit, standardError)
        XCTAssertEqual(process.terminationStatus, 1, standardError)
        XCTAssertTrue(standardError.hasPrefix("Error: this run needs about"), standardError)
        XCTAssertTrue(standardError.contains("ulimit -v"), standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: checkpoint))
    }

    /// Nine Dense(16384) layers (9.7 GB of weights) under `ulimit -v 3000000`: refused while the model
    /// is built, before the kernel that would not fit is allocated, naming the layer and the limit.
    func testModelTooLargeToBuildIsRefusedBeforeAllocating() throws {
        let (process, standardError) = try trainUnderAddressLimit(kilobytes: 3_000_000, hiddenLayers: 9, units: 16384)
        XCTAssertEqual(process.terminationReason, .exit, standardError)
        XCTAssertEqual(process.terminationStatus, 1, standardError)
        XCTAssertTrue(standardError.hasPrefix("Error: "), standardError)
        XCTAssertTrue(standardError.contains("Dense layer 'dense_"), standardError)
        XCTAssertTrue(standardError.contains("16384 × 16384"), standardError)
        XCTAssertTrue(standardError.contains("ulimit -v"), standardError)
        XCTAssertFalse(standardError.contains("Fatal error"), standardError)
        XCTAssertEqual(standardError.split(separator: "\n").count, 1, standardError)
    }

    /// `lrt train` of a Flatten, `hiddenLayers` Dense(`units`, relu) and a softmax on the digits under
    /// `ulimit -v kilobytes`.
    private func trainUnderAddressLimit(kilobytes: Int, hiddenLayers: Int, units: Int) throws -> (Process, String) {
        let wide = inputs.appendingPathComponent("wide.json")
        let hidden = Array(repeating: #"{"class_name": "Dense", "config": {"units": \#(units), "activation": "relu"}}"#, count: hiddenLayers)
        try """
            {"class_name": "Sequential", "config": {"name": "wide", "layers": [
              {"class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 1]}}, {"class_name": "Flatten"},
              \(hidden.joined(separator: ", ")),
              {"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}]}}
            """.write(to: wide, atomically: true, encoding: .utf8)
        let arguments = ["train", "--model", wide.path, "--data", dataset.path, "--epochs", "1", "--out", checkpoint]
        let quoted = ([Self.executable.path] + arguments).map { "'\($0)'" }.joined(separator: " ")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "ulimit -v \(kilobytes) && exec \(quoted)"]
        process.currentDirectoryURL = outputs
        let errorURL = directory.appendingPathComponent("ulimit.stderr")
        _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: errorURL)
        process.standardOutput = FileHandle.nullDevice
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"
        process.environment = environment
        try process.run()
        process.waitUntilExit()
        return (process, try String(contentsOf: errorURL, encoding: .utf8))
    }

    /// `OMP_NUM_THREADS=100000 lrt doctor` segfaulted in libgomp: the count is clamped with a warning.
    func testAbsurdThreadCountIsClamped() throws {
        var environment = ProcessInfo.processInfo.environment
        environment["OMP_NUM_THREADS"] = "100000"
        let run = try lrt(["doctor", "--gemm-size", "64"], environment: environment)
        assertNoCrash(run)
        XCTAssertEqual(run.status, 0, "\(run)")
        XCTAssertTrue(run.standardError.contains("warning: OMP_NUM_THREADS=100000"), "\(run)")
    }

    // MARK: - Nonsense accepted (case 7)

    /// NaN weights: `eval` fails naming the dataset (it printed `"loss": null` with status 0).
    func testNonFiniteWeightsAreRefusedByEval() throws {
        let saved = try trainCheckpoint(dataset: dataset)
        let bias = "/model_weights/dense/tiny_mlp/dense/bias"
        let file = H5Fopen(saved.path, 1, lrt_H5P_DEFAULT())
        let handle = H5Dopen2(file, bias, lrt_H5P_DEFAULT())
        let values = [Float](repeating: .nan, count: 16)
        XCTAssertGreaterThanOrEqual(H5Dwrite(handle, lrt_H5T_NATIVE_FLOAT(), lrt_H5S_ALL(), lrt_H5S_ALL(), lrt_H5P_DEFAULT(), values), 0)
        H5Dclose(handle)
        H5Fclose(file)
        try assertFailsCleanly(["eval", saved.path, "--json"], mentioning: [bias, "nan", "finite"])
        try assertFailsCleanly(["resume", saved.path, "--epochs", "3"], mentioning: [bias, "nan"])
    }

    /// `resume --data` with a dataset lacking a class the checkpoint was trained on is refused.
    func testResumeWithAnotherDatasetIsRefused() throws {
        let saved = try trainCheckpoint(dataset: dataset)
        let other = try makeDataset("other", classes: ["left", "right"])
        try assertFailsCleanly(["resume", saved.path, "--epochs", "3", "--data", other.path],
                               mentioning: ["top", "resume with the dataset it was trained on"])
    }

    /// A model config with a repeated key (Python takes the last value, lrt took the first) is refused.
    func testDuplicateJSONKeyIsRefused() throws {
        let config = inputs.appendingPathComponent("duplicate.json")
        try """
            {"class_name": "Sequential", "config": {"name": "tiny", "layers": [
              {"class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 1]}}, {"class_name": "Flatten"},
              {"class_name": "Dense", "config": {"units": 3, "units": 5, "activation": "softmax"}}]}}
            """.write(to: config, atomically: true, encoding: .utf8)
        try assertFailsCleanly(["train", "--model", config.path, "--data", dataset.path, "--out", checkpoint],
                               mentioning: ["\"units\" appears twice"])
    }

    // MARK: - Misleading messages (case 9)

    /// `--model DIR`, `--model /dev/zero`, a Latin-1 config and `--seed -1` get messages that say what is wrong.
    func testModelConfigAndSeedMessagesNameTheProblem() throws {
        try assertFailsCleanly(["train", "--model", inputs.path, "--data", dataset.path, "--out", checkpoint],
                               mentioning: [inputs.path, "is a folder"])
        try assertFailsCleanly(["train", "--model", "/dev/zero", "--data", dataset.path, "--out", checkpoint],
                               mentioning: ["/dev/zero", "character device"])
        let latin1 = inputs.appendingPathComponent("latin1.json")
        var bytes = Array(try String(contentsOf: model, encoding: .utf8).utf8)
        let nameRange = try XCTUnwrap(bytes.firstRange(of: Array("tiny_mlp".utf8)))
        bytes.replaceSubrange(nameRange, with: [0x63, 0x61, 0x66, 0xE9])  // "café" in Latin-1
        try Data(bytes).write(to: latin1)
        try assertFailsCleanly(["train", "--model", latin1.path, "--data", dataset.path, "--out", checkpoint],
                               mentioning: [latin1.path, "0xE9", "UTF-8"])
        try assertFailsCleanly(train(out: checkpoint, ["--seed", "-1"]), mentioning: ["--seed", "'-1'", "whole number"])
    }
}
