import Foundation
import XCTest

/// `lrt doctor`: a JSON report, a passing sgemm check, and the fast-kernel fix for CPUs
/// that OpenBLAS does not recognise, which never overrides the user's OPENBLAS_CORETYPE.
final class DoctorTests: CommandTestCase {
    /// `lrt doctor --json` under `environment`, parsed.
    private func doctor(environment: [String: String]? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> [String: String] {
        let run = try lrt(["doctor", "--json", "--gemm-size", "256"], environment: environment)
        assertNoCrash(run, file: file, line: line)
        XCTAssertEqual(run.status, 0, "\(run)", file: file, line: line)
        let object = try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8))
        return try XCTUnwrap(object as? [String: String], "doctor --json printed \(run.standardOutput)", file: file, line: line)
    }

    /// The environment of this test process without the variables lrt's BLAS fix and kernel choice read.
    private var cleanEnvironment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for name in ["OPENBLAS_CORETYPE", "LRT_SIMULATE_BLAS_CORE", "LRT_BLAS_REEXECUTED", "LRT_KERNELS", "LRT_WINOGRAD",
                     "LRT_FUSION", "LRT_AVX2", "LRT_INFERENCE_COPIES"] { environment[name] = nil }
        return environment
    }

    private var cpuFlags: Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flags = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = flags.firstIndex(of: ":")
        else { return [] }
        return Set(flags[flags.index(after: colon)...].split(separator: " ").map(String.init))
    }

    /// With no kernel setting, doctor reports oneDNN kernels and passing checks.
    func testJSONReportPassesSgemmCheck() throws {
        let report = try doctor(environment: cleanEnvironment)
        XCTAssertEqual(report["sgemm_check"], "passed", "\(report)")
        for key in ["blas", "blas_core", "blas_core_source", "blas_threads", "sgemm_max_relative_error", "hdf5", "libpng",
                    "onednn", "kernels", "kernels_source", "threads"] {
            XCTAssertFalse((report[key] ?? "").isEmpty, "doctor --json lacks \(key): \(report)")
        }
        XCTAssertEqual(report["onednn_check"], "passed", "\(report)")
        XCTAssertEqual(report["kernels"], "onednn", "\(report)")
    }

    /// `LRT_KERNELS` picks lrt's own kernels; a value that names no backend is reported and ignored.
    func testKernelBackendSetting() throws {
        var environment = cleanEnvironment
        environment["LRT_KERNELS"] = "blas"
        XCTAssertEqual(try doctor(environment: environment)["kernels"], "blas")
        environment["LRT_KERNELS"] = "cuda"
        let report = try doctor(environment: environment)
        XCTAssertEqual(report["kernels"], "onednn", "\(report)")
        XCTAssertTrue(report["kernels_source"]?.contains("LRT_KERNELS=cuda names no backend") == true, "\(report)")
    }

    /// Winograd's algorithm is on for inference unless `LRT_WINOGRAD=off`.
    func testWinogradSetting() throws {
        var environment = cleanEnvironment
        XCTAssertEqual(try doctor(environment: environment)["winograd"]?.hasPrefix("on"), true)
        environment["LRT_WINOGRAD"] = "off"
        XCTAssertEqual(try doctor(environment: environment)["winograd"], "off (LRT_WINOGRAD=off)")
    }

    /// Convolution-pooling fusion is on for inference unless `LRT_FUSION=off`.
    func testFusionSetting() throws {
        var environment = cleanEnvironment
        XCTAssertEqual(try doctor(environment: environment)["fusion"]?.hasPrefix("on"), true)
        environment["LRT_FUSION"] = "off"
        XCTAssertEqual(try doctor(environment: environment)["fusion"], "off (LRT_FUSION=off)")
    }

    /// Inference runs a copy of the model per core unless `LRT_INFERENCE_COPIES=off`.
    func testInferenceCopiesSetting() throws {
        var environment = cleanEnvironment
        XCTAssertEqual(try doctor(environment: environment)["inference_copies"]?.hasPrefix("on"), true)
        environment["LRT_INFERENCE_COPIES"] = "off"
        XCTAssertEqual(try doctor(environment: environment)["inference_copies"], "off (LRT_INFERENCE_COPIES=off)")
    }

    /// The AVX2 build of the vector kernels runs on a CPU with AVX2 unless `LRT_AVX2=off`.
    func testVectorKernelSetting() throws {
        var environment = cleanEnvironment
        let hasAVX2 = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.contains(" avx2 ") == true
        XCTAssertEqual(try doctor(environment: environment)["vector_kernels"]?.hasPrefix(hasAVX2 ? "avx2" : "baseline"), true)
        environment["LRT_AVX2"] = "off"
        XCTAssertEqual(try doctor(environment: environment)["vector_kernels"]?.hasPrefix("baseline"), true)
    }

    func testGenericKernelFallbackIsReplacedByFastKernels() throws {
        let flags = cpuFlags
        let expected: String
        if flags.isSuperset(of: ["avx512f", "avx512dq", "avx512bw", "avx512vl"]) {
            expected = "SkylakeX"
        } else if flags.isSuperset(of: ["avx2", "fma"]) {
            expected = "Haswell"
        } else {
            throw XCTSkip("this CPU has neither AVX-512 nor AVX2+FMA; no faster kernels to switch to")
        }
        var environment = cleanEnvironment
        environment["LRT_SIMULATE_BLAS_CORE"] = "Prescott"
        let report = try doctor(environment: environment)
        XCTAssertEqual(report["blas_core"], expected, "\(report)")
        XCTAssertTrue(report["blas_core_source"]?.contains("lrt") == true, "\(report)")
        XCTAssertEqual(report["sgemm_check"], "passed", "\(report)")
    }

    func testUserCoreTypeIsNeverOverridden() throws {
        guard cpuFlags.isSuperset(of: ["avx2", "fma"]) else {
            throw XCTSkip("OpenBLAS's Haswell kernels need AVX2 and FMA")
        }
        var environment = cleanEnvironment
        environment["OPENBLAS_CORETYPE"] = "Haswell"
        environment["LRT_SIMULATE_BLAS_CORE"] = "Prescott"
        let report = try doctor(environment: environment)
        XCTAssertEqual(report["blas_core"], "Haswell", "\(report)")
        XCTAssertTrue(report["blas_core_source"]?.contains("OPENBLAS_CORETYPE") == true, "\(report)")
    }
}
