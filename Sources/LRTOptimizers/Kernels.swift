/// The optimizer's inner loops over whole tensors, eight lanes at a time.
///
/// Sums of squares accumulate eight `Float` lanes over blocks of 512 elements and add each
/// block into a `Double`, so they vectorize and stay accurate to about 1e-7 relative; the
/// order is fixed by the element count alone, so results are reproducible bit for bit.
enum Kernels {
    static let block = 512

    /// Σ xᵢ².
    static func sumOfSquares(_ values: UnsafeBufferPointer<Float>) -> Double {
        guard let base = values.baseAddress else { return 0 }
        let count = values.count
        var total = 0.0
        var start = 0
        while start < count {
            let end = min(start + block, count)
            var lanes = SIMD8<Float>()
            var index = start
            while index + 8 <= end {
                let value = UnsafeRawPointer(base + index).loadUnaligned(as: SIMD8<Float>.self)
                lanes += value * value
                index += 8
            }
            var partial = 0.0
            for lane in 0..<8 { partial += Double(lanes[lane]) }
            while index < end {
                partial += Double(base[index]) * Double(base[index])
                index += 1
            }
            total += partial
            start = end
        }
        return total
    }

    /// `θ ← θ·keep − scale·d` in place; returns Σ θ_old² and Σ (θ_new − θ_old)².
    static func step(_ values: UnsafeMutableBufferPointer<Float>, direction: UnsafeBufferPointer<Float>,
                     keep: Float, scale: Float) -> (weightSquares: Double, updateSquares: Double) {
        guard let base = values.baseAddress, let directions = direction.baseAddress else { return (0, 0) }
        let count = values.count
        var weightTotal = 0.0
        var updateTotal = 0.0
        var start = 0
        let keepLanes = SIMD8<Float>(repeating: keep)
        let scaleLanes = SIMD8<Float>(repeating: scale)
        while start < count {
            let end = min(start + block, count)
            var weightLanes = SIMD8<Float>()
            var updateLanes = SIMD8<Float>()
            var index = start
            while index + 8 <= end {
                let old = UnsafeRawPointer(base + index).loadUnaligned(as: SIMD8<Float>.self)
                let step = UnsafeRawPointer(directions + index).loadUnaligned(as: SIMD8<Float>.self)
                let new = old * keepLanes - scaleLanes * step
                UnsafeMutableRawPointer(base + index).storeBytes(of: new, as: SIMD8<Float>.self)
                let change = new - old
                weightLanes += old * old
                updateLanes += change * change
                index += 8
            }
            var weightPartial = 0.0
            var updatePartial = 0.0
            for lane in 0..<8 {
                weightPartial += Double(weightLanes[lane])
                updatePartial += Double(updateLanes[lane])
            }
            while index < end {
                let old = base[index]
                let new = old * keep - scale * directions[index]
                base[index] = new
                let change = new - old
                weightPartial += Double(old * old)
                updatePartial += Double(change * change)
                index += 1
            }
            weightTotal += weightPartial
            updateTotal += updatePartial
            start = end
        }
        return (weightTotal, updateTotal)
    }
}

extension Kernels {
    /// `target ← clamp(source, −limit, limit)`.
    static func clamp(_ source: UnsafeBufferPointer<Float>, limit: Float, into target: UnsafeMutableBufferPointer<Float>) {
        let upper = Lanes.Vector(repeating: limit), lower = Lanes.Vector(repeating: -limit)
        Lanes.forEach(source.count) { index, count in
            Lanes.store(pointwiseMin(pointwiseMax(Lanes.load(source, index, count), lower), upper), target, index, count)
        }
    }

    /// `target ← factor·source`.
    static func scale(_ source: UnsafeBufferPointer<Float>, by factor: Float, into target: UnsafeMutableBufferPointer<Float>) {
        let lanes = Lanes.Vector(repeating: factor)
        Lanes.forEach(source.count) { index, count in
            Lanes.store(Lanes.load(source, index, count) * lanes, target, index, count)
        }
    }

    /// `target ← (target + λ·source)·factor`.
    static func addScaled(_ source: UnsafeBufferPointer<Float>, by rate: Float, to target: UnsafeMutableBufferPointer<Float>,
                          thenMultiplyBy factor: Float) {
        let rateLanes = Lanes.Vector(repeating: rate), factorLanes = Lanes.Vector(repeating: factor)
        Lanes.forEach(source.count) { index, count in
            let sum = Lanes.load(target, index, count) + rateLanes * Lanes.load(source, index, count)
            Lanes.store(factor == 1 ? sum : sum * factorLanes, target, index, count)
        }
    }
}

/// Element-wise loops eight lanes at a time, for update rules: `forEach` visits the
/// elements in groups of eight, the last group padded with zeros that are never stored.
/// Every lane does the same IEEE operations as a scalar loop would, so the results are
/// the same bits.
public enum Lanes {
    public typealias Vector = SIMD8<Float>

    /// Calls `body(index, count)` for `index` = 0, 8, 16, … below `count`.
    @inline(__always)
    public static func forEach(_ count: Int, _ body: (Int, Int) -> Void) {
        var index = 0
        while index < count {
            body(index, count)
            index += 8
        }
    }

    /// Eight elements from `index` (zeros past `count`).
    @inline(__always)
    public static func load(_ buffer: UnsafeBufferPointer<Float>, _ index: Int, _ count: Int) -> Vector {
        let base = buffer.baseAddress! + index
        if index + 8 <= count { return UnsafeRawPointer(base).loadUnaligned(as: Vector.self) }
        var vector = Vector()
        for lane in 0..<(count - index) { vector[lane] = base[lane] }
        return vector
    }

    @inline(__always)
    public static func load(_ buffer: UnsafeMutableBufferPointer<Float>, _ index: Int, _ count: Int) -> Vector {
        load(UnsafeBufferPointer(buffer), index, count)
    }

    /// Stores the lanes that fall below `count`.
    @inline(__always)
    public static func store(_ vector: Vector, _ buffer: UnsafeMutableBufferPointer<Float>, _ index: Int, _ count: Int) {
        let base = buffer.baseAddress! + index
        if index + 8 <= count {
            UnsafeMutableRawPointer(base).storeBytes(of: vector, as: Vector.self)
        } else {
            for lane in 0..<(count - index) { base[lane] = vector[lane] }
        }
    }
}
