import CBLAS

/// Single-precision matrix products through CBLAS `sgemm` (row-major).
public enum MatrixMultiply {
    /// `c = alpha · op(a) · op(b) + beta · c`, all matrices row-major.
    ///
    /// - Parameters:
    ///   - a: `[rows, inner]`, or `[inner, rows]` when `transposeA`.
    ///   - b: `[inner, columns]`, or `[columns, inner]` when `transposeB`.
    ///   - c: `[rows, columns]`, overwritten (or accumulated into when `beta` is 1).
    ///   - alpha: scale of the product (default 1).
    ///   - beta: scale of the existing `c` (default 0: overwrite).
    @inlinable
    public static func gemm(
        _ a: UnsafePointer<Float>, transposeA: Bool = false,
        _ b: UnsafePointer<Float>, transposeB: Bool = false,
        into c: UnsafeMutablePointer<Float>,
        rows: Int, columns: Int, inner: Int,
        alpha: Float = 1, beta: Float = 0
    ) {
        gemm(a, leadingA: transposeA ? rows : inner, transposeA: transposeA,
             b, leadingB: transposeB ? inner : columns, transposeB: transposeB,
             into: c, leadingC: columns, rows: rows, columns: columns, inner: inner, alpha: alpha, beta: beta)
    }

    /// `c = alpha · op(a) · op(b) + beta · c` on sub-matrices of larger row-major
    /// matrices: each operand's rows are `leading…` elements apart.
    ///
    /// Used to give each core a band of rows of one product.
    /// - Parameters:
    ///   - a: `[rows, inner]`, or `[inner, rows]` when `transposeA`, rows `leadingA` apart.
    ///   - b: `[inner, columns]`, or `[columns, inner]` when `transposeB`, rows `leadingB` apart.
    ///   - c: `[rows, columns]`, rows `leadingC` apart.
    @inlinable
    public static func gemm(
        _ a: UnsafePointer<Float>, leadingA: Int, transposeA: Bool = false,
        _ b: UnsafePointer<Float>, leadingB: Int, transposeB: Bool = false,
        into c: UnsafeMutablePointer<Float>, leadingC: Int,
        rows: Int, columns: Int, inner: Int,
        alpha: Float = 1, beta: Float = 0
    ) {
        cblas_sgemm(
            CblasRowMajor,
            transposeA ? CblasTrans : CblasNoTrans,
            transposeB ? CblasTrans : CblasNoTrans,
            blasint(rows), blasint(columns), blasint(inner),
            alpha, a, blasint(leadingA), b, blasint(leadingB), beta, c, blasint(leadingC))
    }

    /// A naive triple loop with Double accumulation: the reference `gemm` is checked against.
    public static func reference(
        _ a: [Float], transposeA: Bool = false,
        _ b: [Float], transposeB: Bool = false,
        rows: Int, columns: Int, inner: Int
    ) -> [Float] {
        var c = [Float](repeating: 0, count: rows * columns)
        for row in 0..<rows {
            for column in 0..<columns {
                var sum = 0.0
                for index in 0..<inner {
                    let left = transposeA ? a[index * rows + row] : a[row * inner + index]
                    let right = transposeB ? b[column * inner + index] : b[index * columns + column]
                    sum += Double(left) * Double(right)
                }
                c[row * columns + column] = Float(sum)
            }
        }
        return c
    }
}
