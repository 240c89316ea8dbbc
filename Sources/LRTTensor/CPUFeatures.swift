import Foundation

/// What the CPU runs beyond baseline x86-64, for the kernels compiled a second time for it (`LRTTensorAVX2`).
public enum CPUFeatures {
    /// The environment variable that keeps the baseline kernels on an AVX2 CPU (`LRT_AVX2=off`), to compare the two.
    public static let environmentVariable = "LRT_AVX2"
    /// Whether the CPU has AVX2 (Linux lists the flag only when the kernel also saves the 256-bit registers),
    /// unless `LRT_AVX2` is `off`.
    public static let usesAVX2 = hasAVX2 && ProcessInfo.processInfo.environment[environmentVariable]?.lowercased() != "off"
    /// Whether the CPU has AVX2, whatever `LRT_AVX2` says.
    public static let hasAVX2 = BLASRuntime.cpuFlags().contains("avx2")
}
