import CBLAS
#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// What OpenBLAS is running with, and the fix for CPUs it does not recognise.
///
/// OpenBLAS 0.3.21 picks its kernels from CPUID when the library loads. On CPUs
/// newer than it knows (AMD Zen 4/5 seen as "Prescott", for example) it falls
/// back to generic SSE3 kernels and `sgemm` runs about 9x slower. The choice is
/// made before `main` runs, so the only fix from inside the process is to set
/// `OPENBLAS_CORETYPE` and re-execute the program: ``prepareForFastKernels(arguments:)``.
public enum BLASRuntime {
    /// The environment variable OpenBLAS reads its core type from.
    public static let coreTypeVariable = "OPENBLAS_CORETYPE"
    /// Set on the re-executed process, so it never re-executes twice.
    public static let reexecutedVariable = "LRT_BLAS_REEXECUTED"
    /// Testing hook: pretend OpenBLAS chose this core (e.g. "Prescott") to exercise the fix.
    public static let simulatedCoreVariable = "LRT_SIMULATE_BLAS_CORE"

    /// The name of the kernel set OpenBLAS chose, such as "Haswell" or "Prescott".
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// The number of threads OpenBLAS uses.
    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// OpenBLAS's build configuration string, including its version.
    public static var configuration: String {
        guard let text = openblas_get_config() else { return "unknown" }
        return String(cString: text).trimmingCharacters(in: .whitespaces)
    }

    /// Kernel sets that already use AVX2 or AVX-512 FMA kernels for sgemm.
    static let vectorCores: Set<String> = [
        "haswell", "zen", "skylakex", "cooperlake", "sapphirerapids", "excavator",
    ]

    /// The core type to ask OpenBLAS for, or nil when its own choice should stand.
    ///
    /// - Parameters:
    ///   - chosenCore: the core OpenBLAS picked (``coreName``).
    ///   - userSetting: the user's `OPENBLAS_CORETYPE`, never overridden when present.
    ///   - cpuFlags: the CPU's feature flags (`/proc/cpuinfo` names: "avx2", "avx512f", …).
    public static func recommendedCoreType(chosenCore: String, userSetting: String?, cpuFlags: Set<String>) -> String? {
        if let userSetting, !userSetting.isEmpty { return nil }
        if vectorCores.contains(chosenCore.lowercased()) { return nil }
        if cpuFlags.isSuperset(of: ["avx512f", "avx512dq", "avx512bw", "avx512vl"]) { return "SkylakeX" }
        if cpuFlags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        return nil
    }

    /// The feature flags of the first CPU in `/proc/cpuinfo` (empty where unavailable).
    public static func cpuFlags() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return [] }
        for line in text.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
        }
        return []
    }

    /// Re-executes this program with a fast `OPENBLAS_CORETYPE` when OpenBLAS chose
    /// slow generic kernels for a CPU that supports AVX2 or AVX-512.
    ///
    /// Call it first thing in `main`, before any work. It returns normally when no
    /// fix is needed, when the user set `OPENBLAS_CORETYPE`, when this process is
    /// already the re-executed one, or when `execv` fails (then BLAS stays slow but
    /// correct). Results do not depend on the choice beyond float rounding; `lrt
    /// doctor` checks `sgemm` against a naive product under the core in use.
    public static func prepareForFastKernels(arguments: [String] = CommandLine.arguments) {
        let environment = ProcessInfo.processInfo.environment
        guard environment[reexecutedVariable] == nil else { return }
        let chosen = environment[simulatedCoreVariable] ?? coreName
        guard let core = recommendedCoreType(
            chosenCore: chosen, userSetting: environment[coreTypeVariable], cpuFlags: cpuFlags())
        else { return }
        setenv(coreTypeVariable, core, 1)
        setenv(reexecutedVariable, "1", 1)
        unsetenv(simulatedCoreVariable)
        let argumentPointers = arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", argumentPointers)
        // Only reached when execv failed: carry on with the slow kernels.
        unsetenv(coreTypeVariable)
        argumentPointers.forEach { free($0) }
    }

    /// Whether this process was re-executed by ``prepareForFastKernels(arguments:)``.
    public static var wasReexecuted: Bool {
        ProcessInfo.processInfo.environment[reexecutedVariable] != nil
    }
}
