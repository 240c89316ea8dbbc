import XCTest
@testable import LRTTensor

/// Winograd's F(4×4, 3×3) and F(5×5, 3×3) against direct convolution written as loops over windows, with Double accumulation.
final class WinogradConvolutionTests: XCTestCase {
    private func random(_ count: Int, seed: UInt64) -> [Float] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in generator.nextFloat(in: -1, 1) }
    }

    private func direct(_ input: [Float], images: Int, _ geometry: WindowGeometry, kernel: [Float], filters: Int) -> [Float] {
        let (height, width, channels) = (geometry.inputHeight, geometry.inputWidth, geometry.channels)
        var output = [Float](repeating: 0, count: images * geometry.outputPositions * filters)
        for image in 0..<images {
            for outputY in 0..<geometry.outputHeight {
                for outputX in 0..<geometry.outputWidth {
                    for filter in 0..<filters {
                        var sum = 0.0
                        for kernelY in 0..<3 {
                            for kernelX in 0..<3 {
                                let y = outputY - geometry.padTop + kernelY, x = outputX - geometry.padLeft + kernelX
                                guard y >= 0 && y < height && x >= 0 && x < width else { continue }
                                for channel in 0..<channels {
                                    sum += Double(input[((image * height + y) * width + x) * channels + channel])
                                        * Double(kernel[((kernelY * 3 + kernelX) * channels + channel) * filters + filter])
                                }
                            }
                        }
                        output[((image * geometry.outputHeight + outputY) * geometry.outputWidth + outputX) * filters + filter] = Float(sum)
                    }
                }
            }
        }
        return output
    }

    func testMatchesDirectConvolutionOnBordersPartialTilesAndOddChannelCounts() throws {
        let cases: [(height: Int, width: Int, channels: Int, filters: Int, padding: Padding)] = [
            (11, 11, 32, 64, .valid),  // 9×9 outputs by 2×2 tiles of F(5×5), the last ones partial
            (8, 8, 16, 16, .same),     // whole tiles, every tile on the border
            (7, 5, 3, 5, .same),       // channels and filters not multiples of 8: padded vectors
            (3, 3, 8, 8, .valid),      // one output per image
            (14, 13, 9, 24, .same),    // interior tiles beside border ones
        ]
        var tileSizes: Set<Int> = []
        for (index, test) in cases.enumerated() {
            let geometry = try XCTUnwrap(WindowGeometry(inputHeight: test.height, inputWidth: test.width, channels: test.channels,
                                                        windowHeight: 3, windowWidth: 3, strideHeight: 1, strideWidth: 1,
                                                        padding: test.padding))
            let winograd = try XCTUnwrap(WinogradConvolution(geometry: geometry, filters: test.filters))
            tileSizes.insert(winograd.tileSize)
            let images = 3
            let input = random(images * geometry.inputSize, seed: UInt64(index))
            let kernel = random(9 * test.channels * test.filters, seed: UInt64(index) + 50)
            let expected = direct(input, images: images, geometry, kernel: kernel, filters: test.filters)
            var transformed = [Float](repeating: 0, count: winograd.transformedKernelCount)
            winograd.transformKernel(kernel, into: &transformed)
            // Two chunks (2 images, then 1), as a layer's shards and chunks call it.
            var output = [Float](repeating: .nan, count: expected.count)
            var scratch = [Float](repeating: .nan, count: winograd.scratchCount(images: 2))
            let outputSize = geometry.outputPositions * test.filters
            for (first, count) in [(0, 2), (2, 1)] {
                input.withUnsafeBufferPointer { inputs in
                    output.withUnsafeMutableBufferPointer { outputs in
                        winograd.convolve(inputs.baseAddress! + first * geometry.inputSize, images: count, transformedKernel: transformed,
                                          into: outputs.baseAddress! + first * outputSize, scratch: &scratch)
                    }
                }
            }
            // Relative to the largest output: the transforms' rounding grows with the sums, not with each output.
            let worst = zip(output, expected).map { abs($0 - $1) }.max() ?? .nan
            let largest = expected.map(abs).max() ?? 0
            XCTAssertLessThan(worst, 2e-5 * largest, "case \(index): \(test), largest output \(largest)")
        }
        XCTAssertEqual(tileSizes, [4, 5], "both tile sizes")
    }

    /// With a 2×2 max pooling taken in: the tiles cover only the outputs the pooling reads, F(5×5, 3×3) where that
    /// takes fewer products (cnn-mnist's second convolution: 10×10 of its 11×11 outputs, 4 tiles of 49 products
    /// against 9 of 36); the pooled maxima of the biased, rectified outputs against the direct loops.
    func testPooledOutputsMatchDirectConvolutionWithEitherTileSize() throws {
        // The tile sizes with the pooling and without it.
        let cases: [(height: Int, width: Int, channels: Int, filters: Int, padding: Padding, tileSize: Int, alone: Int)] = [
            (13, 13, 32, 64, .valid, 5, 4),  // cnn-mnist's second convolution: 11×11 outputs, 10×10 pooled by 2×2 tiles of 5×5
            (11, 11, 32, 64, .valid, 4, 5),  // 9×9 outputs: 8×8 pooled by 2×2 tiles of 4×4; alone, 2×2 of 5×5 against 3×3 of 4×4
            (10, 10, 9, 20, .same, 5, 5),    // padded channels and filters, every tile on the border
            (16, 12, 8, 8, .same, 4, 4),     // 16×12: 12 tiles of 36 products against 12 of 49
            (12, 23, 16, 24, .valid, 5, 5),  // 10×21 outputs, 10×20 pooled: 2×4 tiles of 49 products against 3×5 of 36
        ]
        for (index, test) in cases.enumerated() {
            let geometry = try XCTUnwrap(WindowGeometry(inputHeight: test.height, inputWidth: test.width, channels: test.channels,
                                                        windowHeight: 3, windowWidth: 3, strideHeight: 1, strideWidth: 1,
                                                        padding: test.padding))
            let winograd = try XCTUnwrap(WinogradConvolution(geometry: geometry, filters: test.filters, pooled: true))
            XCTAssertEqual(winograd.tileSize, test.tileSize, "case \(index): \(test)")
            XCTAssertEqual(try XCTUnwrap(WinogradConvolution(geometry: geometry, filters: test.filters)).tileSize, test.alone, "case \(index) alone")
            let images = 3
            let input = random(images * geometry.inputSize, seed: UInt64(index) + 10)
            let kernel = random(9 * test.channels * test.filters, seed: UInt64(index) + 60)
            let bias = random(test.filters, seed: UInt64(index) + 70)
            let convolved = direct(input, images: images, geometry, kernel: kernel, filters: test.filters)
            let (pooledHeight, pooledWidth) = (geometry.outputHeight / 2, geometry.outputWidth / 2)
            var expected = [Float](repeating: 0, count: images * pooledHeight * pooledWidth * test.filters)
            for image in 0..<images {
                for y in 0..<pooledHeight {
                    for x in 0..<pooledWidth {
                        for filter in 0..<test.filters {
                            let values = [(0, 0), (0, 1), (1, 0), (1, 1)].map { dy, dx in
                                max(0, convolved[((image * geometry.outputHeight + 2 * y + dy) * geometry.outputWidth + 2 * x + dx)
                                                 * test.filters + filter] + bias[filter])
                            }
                            expected[((image * pooledHeight + y) * pooledWidth + x) * test.filters + filter] = values.max()!
                        }
                    }
                }
            }
            var transformed = [Float](repeating: 0, count: winograd.transformedKernelCount)
            winograd.transformKernel(kernel, into: &transformed)
            var output = [Float](repeating: .nan, count: expected.count)
            var scratch = [Float](repeating: .nan, count: winograd.scratchCount(images: 2))
            let pooledSize = pooledHeight * pooledWidth * test.filters
            for (first, count) in [(0, 2), (2, 1)] {
                input.withUnsafeBufferPointer { inputs in
                    output.withUnsafeMutableBufferPointer { outputs in
                        bias.withUnsafeBufferPointer { biases in
                            winograd.convolve(inputs.baseAddress! + first * geometry.inputSize, images: count, transformedKernel: transformed,
                                              into: outputs.baseAddress! + first * pooledSize, scratch: &scratch,
                                              pooling: WinogradPooling(bias: biases.baseAddress, rectifies: true))
                        }
                    }
                }
            }
            let worst = zip(output, expected).map { abs($0 - $1) }.max() ?? .nan
            let largest = convolved.map(abs).max() ?? 0
            XCTAssertLessThan(worst, 2e-5 * largest, "case \(index): \(test), largest output \(largest)")
        }
    }

    func testAppliesOnlyToThreeByThreeWindowsWithStrideOne() throws {
        func geometry(window: Int, stride: Int) throws -> WindowGeometry {
            try XCTUnwrap(WindowGeometry(inputHeight: 9, inputWidth: 9, channels: 8, windowHeight: window, windowWidth: window,
                                         strideHeight: stride, strideWidth: stride, padding: .same))
        }
        XCTAssertNotNil(WinogradConvolution(geometry: try geometry(window: 3, stride: 1), filters: 8))
        XCTAssertNil(WinogradConvolution(geometry: try geometry(window: 3, stride: 2), filters: 8))
        XCTAssertNil(WinogradConvolution(geometry: try geometry(window: 5, stride: 1), filters: 8))
    }
}
