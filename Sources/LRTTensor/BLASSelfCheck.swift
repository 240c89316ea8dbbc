import Foundation

extension BLASRuntime {
    /// The outcome of ``selfCheck(size:)``.
    public struct SelfCheck: Sendable {
        /// The largest |sgemm − naive| over the checked product, relative to the largest |naive| entry.
        public var maximumRelativeError: Double
        /// Whether that error is within float rounding (1e-5).
        public var passed: Bool { maximumRelativeError <= 1e-5 }
        /// Measured sgemm speed for `size`³, in GFLOP/s (best of 3).
        public var gigaflops: Double
        public var size: Int
    }

    /// Checks `sgemm` under the kernels in use against a naive Double-accumulated
    /// product (all four transpositions, odd sizes), then times a `size`³ product.
    public static func selfCheck(size: Int = 1024) -> SelfCheck {
        var generator = SeededGenerator(seed: 1)
        let (rows, columns, inner) = (67, 45, 131)
        let a = (0..<rows * inner).map { _ in generator.nextFloat(in: -1, 1) }
        let b = (0..<inner * columns).map { _ in generator.nextFloat(in: -1, 1) }
        var worst = 0.0
        for transposeA in [false, true] {
            for transposeB in [false, true] {
                var c = [Float](repeating: 0, count: rows * columns)
                MatrixMultiply.gemm(a, transposeA: transposeA, b, transposeB: transposeB, into: &c,
                                    rows: rows, columns: columns, inner: inner)
                let reference = MatrixMultiply.reference(a, transposeA: transposeA, b, transposeB: transposeB,
                                                         rows: rows, columns: columns, inner: inner)
                let scale = Double(reference.map(abs).max() ?? 1)
                for (value, expected) in zip(c, reference) {
                    worst = max(worst, Double(abs(value - expected)) / scale)
                }
            }
        }
        let left = (0..<size * size).map { _ in generator.nextFloat(in: -1, 1) }
        let right = (0..<size * size).map { _ in generator.nextFloat(in: -1, 1) }
        var product = [Float](repeating: 0, count: size * size)
        var best = Double.infinity
        for _ in 0..<4 {  // the first run warms up threads and caches
            let started = DispatchTime.now().uptimeNanoseconds
            MatrixMultiply.gemm(left, right, into: &product, rows: size, columns: size, inner: size)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
        }
        return SelfCheck(maximumRelativeError: worst, gigaflops: 2 * pow(Double(size), 3) / best / 1e9, size: size)
    }
}
